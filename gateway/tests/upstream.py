#!/usr/bin/env python3
"""The upstream of gateway/tests/proxy.rs: a real HTTP/1.1 server on loopback (standard library
only) that records every request it receives and answers as its path tells it.

    python3 upstream.py [--port N]     # prints "PORT <n>" once listening

Recorded: method, path, query, every header as received (name, value, in order) and the body.
Control endpoints (not recorded): GET /__upstream__/requests (the records, JSON), GET
/__upstream__/count, POST /__upstream__/reset.

Answers, chosen by a segment of the path:
    .../status/NNN/...   status NNN (e.g. 200, 201, 400, 409) with the echo body
    .../sleep/MS/...     sleep MS milliseconds, then 200
    .../big/N/...        200 with a JSON body of N bytes
    .../empty/...        204, no body
    .../gzip/...         200 with Content-Encoding: gzip
    anything else        200 with the echo body
The echo body is the API wrapper with data = {method, path, query, body (the request body as
text), n (this request's number)}. Every answer carries two Set-Cookie headers (one holding
"upstream-secret-<n>"), Cache-Control: no-store, X-Upstream-Private (not on the gateway's
pass-through list), and the hop-by-hop Keep-Alive, Connection: keep-alive, X-Upstream-Hop
(named in Connection), and X-SC-Version: 9 (gateway-owned), which the gateway must remove.
"""

import base64
import gzip
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

LOCK = threading.Lock()
RECORDS = []
COUNT = [0]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "upstream-test"
    sys_version = ""

    def log_message(self, *args):
        pass

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def _send(self, status, body, headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        if status != 204:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if status != 204 and self.command != "HEAD":
            self.wfile.write(body)

    def _control(self, path):
        with LOCK:
            if path == "/__upstream__/requests":
                body = json.dumps(RECORDS).encode()
            elif path == "/__upstream__/count":
                body = json.dumps({"count": COUNT[0]}).encode()
            elif path == "/__upstream__/reset":
                RECORDS.clear()
                COUNT[0] = 0
                body = b"{}"
            else:
                body = b"{}"
        self._send(200, body, [("Content-Type", "application/json")])

    def _handle(self):
        url = urlsplit(self.path)
        body = self._body()
        if url.path.startswith("/__upstream__/"):
            return self._control(url.path)
        with LOCK:
            COUNT[0] += 1
            n = COUNT[0]
            RECORDS.append(
                {
                    "method": self.command,
                    "path": url.path,
                    "query": url.query,
                    "headers": [[k, v] for k, v in self.headers.items()],
                    "body_b64": base64.b64encode(body).decode(),
                }
            )
        segs = url.path.split("/")
        status, extra = 200, None
        for i, s in enumerate(segs[:-1]):
            arg = segs[i + 1]
            if s == "status" and arg.isdigit():
                status = int(arg)
            elif s == "sleep" and arg.isdigit():
                time.sleep(int(arg) / 1000)
            elif s == "big" and arg.isdigit():
                extra = ("big", int(arg))
        if "empty" in segs:
            status, extra = 204, ("empty", 0)
        if "gzip" in segs:
            extra = ("gzip", 0)
        ok = status < 300
        echo = {
            "version": "2.0.0",
            "success": ok,
            "code": "2000" if ok else "UPSTREAM.%d" % status,
            "message": "from the upstream",
            "data": {
                "method": self.command,
                "path": url.path,
                "query": url.query,
                "body": body.decode("utf-8", "replace"),
                "n": n,
            },
        }
        out = json.dumps(echo, separators=(",", ":")).encode()
        headers = [
            ("Content-Type", "application/json;charset=UTF-8"),
            ("Set-Cookie", "sid=upstream-secret-%d; HttpOnly; Path=/" % n),
            ("Set-Cookie", "theme=dark"),
            ("Cache-Control", "no-store"),
            ("X-Upstream-Private", "internal"),
            ("Keep-Alive", "timeout=5"),
            ("Connection", "keep-alive, X-Upstream-Hop"),
            ("X-Upstream-Hop", "1"),
            ("X-SC-Version", "9"),
        ]
        if extra and extra[0] == "big":
            pad = max(extra[1] - len('{"pad":""}'), 0)
            out = ('{"pad":"%s"}' % ("x" * pad)).encode()
        elif extra and extra[0] == "empty":
            out = b""
        elif extra and extra[0] == "gzip":
            out = gzip.compress(out)
            headers.append(("Content-Encoding", "gzip"))
        self._send(status, out, headers)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _handle


def main():
    port = 0
    if "--port" in sys.argv:
        port = int(sys.argv[sys.argv.index("--port") + 1])
    ThreadingHTTPServer.request_queue_size = 1024
    ThreadingHTTPServer.daemon_threads = True
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print("PORT %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
