"""``apexflow serve``: the API function behind a local HTTP server, as API Gateway's HTTP API would call it.

Each request becomes a genuine HTTP API payload 2.0 event (the ``$default`` route) for the same handler that
runs in Lambda; its answer becomes the HTTP response. One request at a time, like one Lambda container.
"""
from __future__ import annotations

import base64
import sys
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qsl, urlsplit

from apexflow_local.esm import LambdaContext


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
    event = {
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


def _handler_class(handler: Callable[[dict, object], dict]):
    class Request(BaseHTTPRequestHandler):
        server_version = "apexflow-local"

        def _answer(self):
            length = int(self.headers.get("Content-Length") or 0)
            event = api_event(self.command, self.path, list(self.headers.items()), self.rfile.read(length),
                              self.client_address[0])
            result = handler(event, LambdaContext("apexflow-api-local"))
            body = result.get("body") or ""
            data = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
            self.send_response(result["statusCode"])
            for name, value in (result.get("headers") or {}).items():
                self.send_header(name, value)
            for cookie in result.get("cookies") or []:
                self.send_header("Set-Cookie", cookie)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _answer

        def log_message(self, format, *args):
            sys.stderr.write(f"{self.address_string()} {format % args}\n")

    return Request


def make_server(handler: Callable[[dict, object], dict], port: int = 8000, host: str = "127.0.0.1") -> HTTPServer:
    """An HTTP server (not yet serving) that hands every request to ``handler`` as an API Gateway event."""
    return HTTPServer((host, port), _handler_class(handler))
