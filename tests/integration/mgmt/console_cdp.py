#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Drive the web console in headless Chromium over the DevTools protocol.

    console_cdp.py CHROMIUM URL SHOT.png PROFILE_DIR TEXT...

Loads URL, waits (at most 30 s) until the page's text contains every TEXT,
then checks that the "messages in" chart gains points and shows a rate
above zero while a producer runs (the caller keeps one running), saves a
screenshot, and fails if the page logged any error or threw. One line per
check; exit 0 when all passed.

Only the standard library: a minimal WebSocket client (RFC 6455, masked
client frames, no extensions) is enough for the DevTools protocol.
"""
import base64
import json
import os
import socket
import struct
import subprocess
import sys
import time
import urllib.request


class WS:
    def __init__(self, url):
        assert url.startswith("ws://")
        hostport, path = url[5:].split("/", 1)
        host, port = hostport.rsplit(":", 1)
        self.s = socket.create_connection((host, int(port)), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        self.s.sendall(("GET /%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                        "Sec-WebSocket-Version: 13\r\n\r\n" %
                        (path, hostport, key)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            c = self.s.recv(1)
            if not c:
                raise RuntimeError("websocket: connection closed in handshake")
            head += c
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise RuntimeError("websocket handshake: %r" % head[:200])

    def _read(self, n):
        b = b""
        while len(b) < n:
            c = self.s.recv(n - len(b))
            if not c:
                raise RuntimeError("websocket: connection closed")
            b += c
        return b

    def send(self, text):
        data = text.encode()
        n = len(data)
        hdr = bytes([0x81])
        if n < 126:
            hdr += bytes([0x80 | n])
        elif n < 65536:
            hdr += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            hdr += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.s.sendall(hdr + mask + body)

    def recv(self):
        msg = b""
        while True:
            b0, b1 = self._read(2)
            op, n = b0 & 0x0F, b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            mask = self._read(4) if b1 & 0x80 else None
            data = self._read(n)
            if mask:
                data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
            if op == 0x8:
                raise RuntimeError("websocket closed by the browser")
            if op == 0x9:              # ping: answer, keep reading
                continue
            msg += data
            if b0 & 0x80:
                return msg.decode()


class CDP:
    def __init__(self, ws):
        self.ws, self.next_id, self.events = ws, 0, []

    def call(self, method, **params):
        self.next_id += 1
        mid = self.next_id
        self.ws.send(json.dumps({"id": mid, "method": method,
                                 "params": params}))
        while True:
            m = json.loads(self.ws.recv())
            if m.get("id") == mid:
                if "error" in m:
                    raise RuntimeError("%s: %s" % (method, m["error"]))
                return m.get("result", {})
            if "method" in m:
                self.events.append(m)

    def eval(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True)
        if "exceptionDetails" in r:
            raise RuntimeError("evaluate %s: %s" % (expr, r["exceptionDetails"]))
        return r["result"].get("value")


def errors(events):
    out = []
    for e in events:
        m, p = e["method"], e.get("params", {})
        if m == "Runtime.exceptionThrown":
            out.append("exception: %s" % json.dumps(p.get("exceptionDetails"))[:300])
        elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            out.append("console.%s: %s" % (p["type"], json.dumps(p.get("args"))[:300]))
        elif m == "Log.entryAdded" and p["entry"].get("level") == "error":
            out.append("log: %s %s" % (p["entry"].get("text"), p["entry"].get("url", "")))
    return out


def main():
    chrome, url, shot, profile = sys.argv[1:5]
    want = sys.argv[5:]
    ok = True
    proc = subprocess.Popen(
        [chrome, "--headless", "--no-sandbox", "--disable-gpu",
         "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--user-data-dir=" + profile,
         "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0",
         "--window-size=1400,2000", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=open(profile + ".stderr", "w"))
    try:
        port_file = os.path.join(profile, "DevToolsActivePort")
        t0 = time.time()
        while not os.path.exists(port_file) or os.path.getsize(port_file) == 0:
            if proc.poll() is not None or time.time() - t0 > 30:
                print("FAIL: chromium did not open its DevTools port "
                      "(see %s.stderr)" % profile)
                return 1
            time.sleep(0.1)
        time.sleep(0.2)
        port = int(open(port_file).read().split()[0])
        targets = json.load(urllib.request.urlopen(
            "http://127.0.0.1:%d/json/list" % port, timeout=10))
        page = [t for t in targets if t.get("type") == "page"][0]
        cdp = CDP(WS(page["webSocketDebuggerUrl"]))
        for d in ("Page.enable", "Runtime.enable", "Log.enable"):
            cdp.call(d)
        cdp.call("Page.navigate", url=url)

        # The topics, partitions and groups the test created, in the DOM.
        t0 = time.time()
        missing = want
        while time.time() - t0 < 30:
            try:
                text = cdp.eval("document.body ? document.body.innerText : ''") or ""
            except RuntimeError:
                text = ""
            missing = [w for w in want if w not in text]
            if not missing:
                break
            time.sleep(0.5)
        if missing:
            print("FAIL: the page does not show %s (after %.0f s)" %
                  (missing, time.time() - t0))
            ok = False
        else:
            print("PASS: the page shows %s (%.1f s after loading)" %
                  (" ".join(want), time.time() - t0))

        # The chart gains points and shows the producer's rate.
        get = ("(() => { const c = document.getElementById('chart-msgs');"
               " return c ? [+c.dataset.points, +c.dataset.last,"
               " +c.dataset.max] : null; })()")
        a = cdp.eval(get)
        time.sleep(3.5)
        b = cdp.eval(get)
        if a is None or b is None:
            print("FAIL: no messages chart on the page")
            ok = False
        elif not b[0] > a[0] or not b[2] > 0:
            print("FAIL: messages chart did not gain points or stayed at 0 "
                  "while producing: points %d -> %d, max %g" %
                  (a[0], b[0], b[2]))
            ok = False
        else:
            print("PASS: messages chart gained points while producing: "
                  "%d -> %d, last %g/s, max %g/s" % (a[0], b[0], b[1], b[2]))

        shot_data = cdp.call("Page.captureScreenshot", format="png")["data"]
        with open(shot, "wb") as f:
            f.write(base64.b64decode(shot_data))
        print("screenshot: %s (%d bytes)" % (shot, os.path.getsize(shot)))

        errs = errors(cdp.events)
        if errs:
            print("FAIL: the page logged %d error(s):" % len(errs))
            for e in errs[:10]:
                print("    " + e)
            ok = False
        else:
            print("PASS: no console errors or exceptions (%d DevTools events)"
                  % len(cdp.events))
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
