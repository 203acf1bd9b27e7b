#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""One TLS connection to a Kafka listener, kept open across a reload.

tls_probe.py HOST:PORT CA GO_FILE: connect (verifying the broker's
certificate and its IP), send ApiVersions, print "ready <subject CN>", wait
until GO_FILE exists, send ApiVersions again on the same connection and
print "again ok <subject CN>". Exits 1 on any failure.
"""
import os
import socket
import ssl
import struct
import sys
import time


def api_versions(s, corr):
    client = b"tls-probe"
    body = struct.pack(">hhih", 18, 0, corr, len(client)) + client
    s.sendall(struct.pack(">i", len(body)) + body)
    hdr = b""
    while len(hdr) < 4:
        chunk = s.recv(4 - len(hdr))
        if not chunk:
            raise RuntimeError("connection closed")
        hdr += chunk
    n = struct.unpack(">i", hdr)[0]
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise RuntimeError("connection closed mid-response")
        data += chunk
    got_corr, err = struct.unpack(">ih", data[:6])
    if got_corr != corr or err != 0:
        raise RuntimeError("bad ApiVersions answer: corr %d err %d" %
                           (got_corr, err))


def cn(s):
    for rdn in s.getpeercert()["subject"]:
        for k, v in rdn:
            if k == "commonName":
                return v
    return "?"


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    ctx = ssl.create_default_context(cafile=sys.argv[2])
    raw = socket.create_connection((host, int(port)), timeout=10)
    s = ctx.wrap_socket(raw, server_hostname=host)
    api_versions(s, 1)
    print("ready", cn(s), flush=True)
    deadline = time.time() + 60
    while not os.path.exists(sys.argv[3]):
        if time.time() > deadline:
            raise RuntimeError("nobody created " + sys.argv[3])
        time.sleep(0.05)
    api_versions(s, 2)
    print("again ok", cn(s), flush=True)
    s.close()


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001
        print("tls_probe:", e, file=sys.stderr)
        sys.exit(1)
