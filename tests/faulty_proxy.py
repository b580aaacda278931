"""A proxy in front of a local server (S3, Label Studio) that misbehaves like a real network.

Each object's first GETs get the faults asked for, in order: "503" (SlowDown, S3's throttling
answer), "reset" (the connection closed before any answer) or "short" (the headers promise the
whole object, half the body comes, then the connection closes). Later GETs, and every other
request, pass through unchanged; `delay_s` slows every object GET (a slow network, so that a
test can kill a download halfway). While `down` is set, every request of any kind is answered by
closing the connection: a server that stopped (the Label Studio tests use it so).
"""

from __future__ import annotations

import http.client
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

SLOW_DOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>"
)


class FaultyProxy:
    def __init__(self, upstream: str, faults: list[str]) -> None:
        self.upstream = urlparse(upstream)
        self.faults = faults
        self.down = False
        self.delay_s = 0.0
        self.seen: dict[str, int] = defaultdict(int)
        self.injected: dict[str, int] = defaultdict(int)
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                if proxy.down:
                    return proxy.hang_up(self)
                with proxy.lock:
                    k = proxy.seen[self.path]
                    proxy.seen[self.path] += 1
                fault = proxy.faults[k] if k < len(proxy.faults) and "list-type" not in self.path else None
                if proxy.delay_s and "list-type" not in self.path:
                    time.sleep(proxy.delay_s)
                if fault == "reset":
                    proxy.count(fault)
                    self.close_connection = True
                    self.connection.close()
                    return
                if fault == "503":
                    proxy.count(fault)
                    self.send_response(503)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(SLOW_DOWN)))
                    self.end_headers()
                    self.wfile.write(SLOW_DOWN)
                    return
                status, headers, body = proxy.forward(self)
                if fault == "short" and status == 200 and len(body) > 1:
                    proxy.count(fault)
                    self.send_response(status)
                    for k_, v in headers:
                        if k_.lower() not in ("transfer-encoding", "connection"):
                            self.send_header(k_, v)
                    self.end_headers()
                    self.wfile.write(body[: len(body) // 2])
                    self.close_connection = True
                    self.connection.close()
                    return
                proxy.reply(self, status, headers, body)

            def do_other(self) -> None:
                if proxy.down:
                    return proxy.hang_up(self)
                proxy.reply(self, *proxy.forward(self))

            do_HEAD = do_PUT = do_POST = do_DELETE = do_PATCH = do_other

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @staticmethod
    def hang_up(req: BaseHTTPRequestHandler) -> None:
        req.close_connection = True
        req.connection.close()

    def count(self, fault: str) -> None:
        with self.lock:
            self.injected[fault] += 1

    def forward(self, req: BaseHTTPRequestHandler) -> tuple[int, list[tuple[str, str]], bytes]:
        length = int(req.headers.get("Content-Length") or 0)
        body = req.rfile.read(length) if length else None
        conn = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=30)
        headers = {k: v for k, v in req.headers.items() if k.lower() != "host"}
        headers["Host"] = self.upstream.netloc
        conn.request(req.command, req.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return resp.status, resp.getheaders(), data

    @staticmethod
    def reply(req: BaseHTTPRequestHandler, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        req.send_response(status)
        for k, v in headers:
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                req.send_header(k, v)
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        if req.command != "HEAD":
            req.wfile.write(body)

    def __enter__(self) -> FaultyProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
