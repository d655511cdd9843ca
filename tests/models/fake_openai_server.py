"""A real HTTP server on 127.0.0.1 that speaks chat completions and misbehaves on request."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def reply(content: str | None = "ok", tool_calls: list | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls is not None:
        message["tool_calls"] = tool_calls
    return {"choices": [{"index": 0, "message": message}], "usage": {"prompt_tokens": 5, "completion_tokens": 2}}


class FakeOpenAIServer:
    """Answers each POST with the next scripted behaviour, then with `default`.

    Behaviours: ("json", payload), ("status", code, body, headers), ("sleep", seconds, payload),
    ("close",) drops the connection without answering, ("raw", bytes) sends a 200 with that body,
    ("reject_tools",) answers 400 if the request has `tools`, else the default.
    """

    def __init__(self) -> None:
        self.script: deque[tuple] = deque()
        self.default: tuple = ("json", reply())
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server naming
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                server.requests.append(body)
                server.headers.append(dict(self.headers))
                action = server.script.popleft() if server.script else server.default
                server.act(self, action, body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def act(self, handler: BaseHTTPRequestHandler, action: tuple, body: dict[str, Any]) -> None:
        kind = action[0]
        if kind == "reject_tools":
            if "tools" in body:
                action = ("status", 400, {"error": {"message": "this server does not support tools"}}, {})
            else:
                action = self.default
            kind = action[0]
        if kind == "close":
            handler.close_connection = True
            handler.connection.close()
            return
        if kind == "sleep":
            time.sleep(action[1])
            action = ("json", action[2])
            kind = "json"
        if kind == "json":
            self.send(handler, 200, json.dumps(action[1]).encode(), {})
        elif kind == "raw":
            self.send(handler, 200, action[1], {})
        elif kind == "status":
            _, code, payload, headers = action
            self.send(handler, code, json.dumps(payload).encode(), headers)

    @staticmethod
    def send(handler: BaseHTTPRequestHandler, code: int, data: bytes, headers: dict[str, str]) -> None:
        try:
            handler.send_response(code)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(data)))
            for key, value in headers.items():
                handler.send_header(key, value)
            handler.end_headers()
            handler.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout test)

    def __enter__(self) -> FakeOpenAIServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
