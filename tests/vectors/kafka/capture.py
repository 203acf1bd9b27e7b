#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Record the raw requests a real Kafka client sends.

Listens on 127.0.0.1:PORT (use 19092 and up, never 9092), runs the client
command given after --, saves every request frame (size prefix included)
as OUT/<prefix>_<api>_v<version>.bin (first of each api/version only,
unless --all), and answers with kafka_vector_responder (lib/kafka encoders).

  capture.py --port 19092 --prefix kcat --out tests/vectors/kafka \\
      --responder build/tests/unit/kafka/kafka_vector_responder \\
      -- kcat -b 127.0.0.1:19092 -L

--refuse-apiversions answers the first ApiVersions like an old broker
(error 35, ApiVersions 0-0) so librdkafka falls back to ApiVersions v0.
"""
import argparse
import os
import socket
import struct
import subprocess
import sys
import threading
import time

API_NAMES = {0: "produce", 1: "fetch", 2: "listoffsets", 3: "metadata",
             8: "offsetcommit", 9: "offsetfetch", 10: "findcoordinator",
             11: "joingroup", 12: "heartbeat", 13: "leavegroup",
             14: "syncgroup", 15: "describegroups", 16: "listgroups",
             18: "apiversions", 19: "createtopics", 20: "deletetopics",
             22: "initproducerid", 32: "describeconfigs",
             37: "createpartitions", 42: "deletegroups",
             44: "incrementalalterconfigs", 47: "offsetdelete",
             60: "describecluster"}


def recv_exact(c, n):
    buf = b""
    while len(buf) < n:
        chunk = c.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


class Capture:
    def __init__(self, args):
        self.args = args
        self.saved = []
        self.refused = False
        self.lock = threading.Lock()

    def handle(self, c):
        a = self.args
        while True:
            hdr = recv_exact(c, 4)
            if hdr is None:
                break
            size = struct.unpack(">i", hdr)[0]
            if size < 0 or size > 100 << 20:
                break
            body = recv_exact(c, size)
            if body is None:
                break
            frame = hdr + body
            key, ver = struct.unpack(">hh", body[:4])
            name = "%s_%s_v%d" % (a.prefix, API_NAMES.get(key, "api%d" % key),
                                  ver)
            with self.lock:
                path = os.path.join(a.out, name + ".bin")
                n = 1
                while a.all and os.path.exists(path):
                    n += 1
                    path = os.path.join(a.out, "%s_%d.bin" % (name, n))
                if a.all or name not in [s[0] for s in self.saved]:
                    with open(path, "wb") as f:
                        f.write(frame)
                    self.saved.append((name, path))
                    print("captured %s (%d bytes)" % (path, len(frame)))
                refuse = (key == 18 and a.refuse_apiversions and
                          not self.refused)
                if refuse:
                    self.refused = True
            cmd = [a.responder, str(a.port)]
            if refuse:
                cmd.append("--refuse-apiversions")
            r = subprocess.run(cmd, input=frame, capture_output=True)
            if r.returncode != 0:
                sys.stderr.write("responder failed (%d) for api %d v%d: %s\n"
                                 % (r.returncode, key, ver,
                                    r.stderr.decode(errors="replace")))
                break
            if r.stdout:
                c.sendall(r.stdout)
        c.close()

    def serve(self, srv):
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            threading.Thread(target=self.handle, args=(c,),
                             daemon=True).start()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=19092)
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--responder", required=True)
    ap.add_argument("--timeout", type=float, default=15)
    ap.add_argument("--all", action="store_true")
    ap.add_argument("--refuse-apiversions", action="store_true")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    if a.port == 9092:
        sys.exit("capture.py: do not use port 9092")
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", a.port))
    srv.listen(8)
    cap = Capture(a)
    threading.Thread(target=cap.serve, args=(srv,), daemon=True).start()
    rc = None
    if cmd:
        try:
            p = subprocess.run(cmd, timeout=a.timeout)
            rc = p.returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
    else:
        time.sleep(a.timeout)
    srv.close()
    print("client exit: %s; %d frames saved" % (rc, len(cap.saved)))


if __name__ == "__main__":
    main()
