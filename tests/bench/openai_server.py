"""A real OpenAI-compatible chat-completions server on 127.0.0.1 for tests and harness benchmarks.

`responder(body)` returns the assistant message (a dict with content and/or tool_calls) for each
request; the server can wait `delay` seconds before answering, as a remote model would.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Responder = Callable[[dict[str, Any]], dict[str, Any]]


class OpenAIStubServer:
    """Context manager: starts the server in a thread, exposes `base_url`, records request bodies."""

    def __init__(self, responder: Responder, delay: float = 0.0) -> None:
        self.responder = responder
        self.delay = delay
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else small writes wait on delayed ACKs (~40 ms each)

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length))
                with server._lock:
                    server.requests.append(body)
                if server.delay:
                    time.sleep(server.delay)
                message = {"role": "assistant", **server.responder(body)}
                payload = json.dumps({"id": "x", "object": "chat.completion", "model": body.get("model"),
                                      "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                                      "usage": {"prompt_tokens": 10, "completion_tokens": 5}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        class Server(ThreadingHTTPServer):
            request_queue_size = 256  # many clients connect at once; the default backlog of 5 drops SYNs

        self._httpd = Server(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> "OpenAIStubServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


class SubprocessStubServer:
    """The same server in a child process, so that its threads do not share the caller's GIL."""

    def __init__(self, responder: Responder, delay: float = 0.0) -> None:
        import multiprocessing

        context = multiprocessing.get_context("fork")
        self._queue = context.Queue()
        self._stop = context.Event()
        self._process = context.Process(target=_serve, args=(responder, delay, self._queue, self._stop), daemon=True)
        self.base_url = ""

    def __enter__(self) -> "SubprocessStubServer":
        self._process.start()
        self.base_url = self._queue.get(timeout=30)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.kill()


def _serve(responder: Responder, delay: float, queue: Any, stop: Any) -> None:
    with OpenAIStubServer(responder, delay) as server:
        queue.put(server.base_url)
        stop.wait()
