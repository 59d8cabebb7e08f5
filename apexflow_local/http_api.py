"""``apexflow serve``: the API function behind a local HTTP server, as API Gateway's HTTP API would call it.

Each request becomes a genuine HTTP API payload 2.0 event (the ``$default`` route) for the same handler that
runs in Lambda; its answer becomes the HTTP response. Requests are answered side by side by a bounded pool of
daemon worker threads (each with its own database connection, as warm Lambda containers have); a connection
that sends nothing for ``READ_TIMEOUT_S`` is closed (answered 408 in the middle of a body), so a stalled
client holds one worker for that long and no one else. What API Gateway would refuse before the function
(a bad ``Content-Length``, a body over its 10 MB payload limit) and a chunked body are refused here, as
problem+json like every other error.
"""
from __future__ import annotations

import base64
import json
import queue
import sys
import threading
import time
import uuid
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from apexflow_local.esm import LambdaContext

WORKERS = 16
READ_TIMEOUT_S = 10.0
MAX_BODY = 10 * 1024 * 1024  # API Gateway's payload limit


def api_event(method: str, target: str, headers: list[tuple[str, str]] | None = None, body: bytes = b"",
              source_ip: str = "127.0.0.1") -> dict:
    """The event API Gateway (HTTP API, payload 2.0) passes a Lambda integration for ``method target``."""
    url = urlsplit(target)
    merged: dict[str, str] = {}
    for name, value in headers or []:
        key = name.lower()
        merged[key] = f"{merged[key]},{value}" if key in merged else value
    cookies = [c.strip() for c in merged.pop("cookie", "").split(";") if c.strip()]
    query: dict[str, str] = {}
    for name, value in parse_qsl(url.query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0", "routeKey": "$default", "rawPath": url.path, "rawQueryString": url.query,
        "headers": merged, "queryStringParameters": query or None,
        "requestContext": {
            "accountId": "123456789012", "apiId": "local", "domainName": merged.get("host", "localhost"),
            "domainPrefix": "local", "requestId": str(uuid.uuid4()), "routeKey": "$default", "stage": "$default",
            "http": {"method": method, "path": url.path, "protocol": "HTTP/1.1", "sourceIp": source_ip,
                     "userAgent": merged.get("user-agent", "")},
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)), "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if body:
        try:
            event["body"] = body.decode()
        except UnicodeDecodeError:
            event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    return event


def _handler_class(handler: Callable[[dict, object], dict], read_timeout: float):
    class Request(BaseHTTPRequestHandler):
        server_version = "apexflow-local"
        timeout = read_timeout  # on every read of the connection: the request line, headers and body

        def __getattr__(self, name: str):
            if name.startswith("do_"):  # every method goes to the function, which says which ones a route takes
                return self._answer
            raise AttributeError(name)

        def _answer(self):
            body = self._body()
            if body is None:
                return
            event = api_event(self.command, self.path, list(self.headers.items()), body, self.client_address[0])
            result = handler(event, LambdaContext("apexflow-api-local"))
            text = result.get("body") or ""
            data = base64.b64decode(text) if result.get("isBase64Encoded") else text.encode()
            self.send_response(result["statusCode"])
            for name, value in (result.get("headers") or {}).items():
                self.send_header(name, value)
            for cookie in result.get("cookies") or []:
                self.send_header("Set-Cookie", cookie)
            if self.command != "HEAD":
                self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def _body(self) -> bytes | None:
            """The request body, or None once the request is refused (answered already)."""
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                self.send_error(HTTPStatus.LENGTH_REQUIRED, explain="send the body with a Content-Length")
                return None
            text = self.headers.get("Content-Length") or "0"
            if not text.isdigit():
                self.send_error(HTTPStatus.BAD_REQUEST, explain=f"Content-Length {text!r} is not a byte count")
                return None
            if int(text) > MAX_BODY:
                self.send_error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, explain=f"a body is at most {MAX_BODY} bytes")
                return None
            body = bytearray()
            try:
                while len(body) < int(text) and (chunk := self.rfile.read1(int(text) - len(body))):
                    body += chunk
            except TimeoutError:
                pass
            if len(body) < int(text):
                self.send_error(HTTPStatus.REQUEST_TIMEOUT,
                                explain=f"the body ended after {len(body)} of its {text} bytes")
                return None
            return bytes(body)

        def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
            """Errors found before the function runs (a malformed request line or header, a bad body length), as
            problem+json like the function's own."""
            status = HTTPStatus(code)
            detail = explain or message or status.description
            data = json.dumps({"type": "about:blank", "title": status.phrase, "status": code, "detail": detail,
                               "errors": []}).encode()
            self.close_connection = True
            try:
                self.send_response(code, message)
                self.send_header("Content-Type", "application/problem+json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Connection", "close")
                self.end_headers()
                if self.command != "HEAD" and code >= 200 and code not in (204, 304):
                    self.wfile.write(data)
            except OSError:  # the client is gone
                pass

        def log_message(self, format, *args):
            sys.stderr.write(f"{self.address_string()} {format % args}\n")

    return Request


class PooledHTTPServer(HTTPServer):
    """An HTTP server answering on ``workers`` daemon threads; accepted connections wait in a bounded queue (and
    beyond it in the listen backlog) while every worker is busy."""

    request_queue_size = 128

    def __init__(self, address, request_class, workers: int = WORKERS):
        super().__init__(address, request_class)
        self._pending: queue.Queue = queue.Queue(maxsize=4 * workers)
        for i in range(workers):
            threading.Thread(target=self._work, name=f"apexflow-api-{i}", daemon=True).start()

    def process_request(self, request, client_address):
        self._pending.put((request, client_address))

    def _work(self):
        while True:
            request, client_address = self._pending.get()
            try:
                self.finish_request(request, client_address)
            except Exception:  # noqa: BLE001 - one broken connection must not end the worker
                self.handle_error(request, client_address)
            finally:
                self.shutdown_request(request)


def make_server(handler: Callable[[dict, object], dict], port: int = 8000, host: str = "127.0.0.1",
                workers: int = WORKERS, read_timeout: float = READ_TIMEOUT_S) -> HTTPServer:
    """An HTTP server (not yet serving) that hands every request to ``handler`` as an API Gateway event."""
    return PooledHTTPServer((host, port), _handler_class(handler, read_timeout), workers)
