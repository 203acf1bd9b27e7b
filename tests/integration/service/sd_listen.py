#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Stand in for systemd's notify socket: bind an AF_UNIX datagram socket at
PATH and append one line per datagram to OUT: monotonic seconds, the
management /health status at that moment (for READY=1 only, else -), and
the message with newlines as '|'. Runs until killed or for 120 s."""
import os
import socket
import sys
import time
import urllib.error
import urllib.request

path, out, mgmt = sys.argv[1], sys.argv[2], sys.argv[3]
try:
    os.unlink(path)
except FileNotFoundError:
    pass
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
s.settimeout(1.0)
deadline = time.monotonic() + 120
with open(out, "a", buffering=1) as f:
    f.write("listening\n")
    while time.monotonic() < deadline:
        try:
            msg = s.recv(4096).decode("utf-8", "replace")
        except socket.timeout:
            continue
        health = "-"
        if "READY=1" in msg.split("\n"):
            try:
                with urllib.request.urlopen("http://%s/health" % mgmt,
                                            timeout=2) as r:
                    health = str(r.status)
            except urllib.error.HTTPError as e:
                health = str(e.code)
            except OSError:
                health = "000"
        f.write("%.3f %s %s\n" % (time.monotonic(), health,
                                  msg.replace("\n", "|")))
