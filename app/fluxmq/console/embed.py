#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Turn the web console's page into a C header (a NUL-terminated array).

    embed.py INPUT OUTPUT NAME
"""
import sys


def main():
    src, dst, name = sys.argv[1:4]
    with open(src, 'rb') as f:
        data = f.read()
    out = ['/* Generated from %s by embed.py: do not edit. */' % src.split('/')[-1],
           'static const char %s[] = {' % name]
    for i in range(0, len(data), 16):
        out.append('\t' + ', '.join('0x%02x' % b for b in data[i:i + 16]) + ',')
    out.append('\t0x00\n};\n')
    with open(dst, 'w') as f:
        f.write('\n'.join(out))


if __name__ == '__main__':
    main()
