"""A scripted stand-in for EvalPlatform's API on a loopback port, for the unit tests."""

import json
import socket
import threading
import time
import uuid
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Recorded(object):
    def __init__(self, method, path, headers, body):
        self.at = time.monotonic()
        self.method = method
        self.path = path
        self.headers = headers
        self.raw = body
        self.json = json.loads(body.decode("utf-8")) if body else None

    @property
    def traces(self):
        return self.json["traces"] if isinstance(self.json, dict) and "traces" in self.json else []


class FakePlatform(object):
    """Answers each request with the next scripted answer, then with success: a batch gets
    201 with an id per trace, scores 201, GET /traces/{id} a trace with a pending review."""

    def __init__(self, port=0):
        self.requests = []
        self.answers = []  # (status, headers, body) tuples, used first in, first out
        self.definitions = {"experiments": []}  # what GET /api/v1/experiments/definitions lists
        self.max_age = 30
        self._cond = threading.Condition()
        platform = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                req = Recorded(self.command, self.path, dict(self.headers), body)
                status, headers, payload = platform._answer(req)
                with platform._cond:  # recorded before answering, so a client that saw the answer finds it here
                    platform.requests.append(req)
                    platform._cond.notify_all()
                data = json.dumps(payload).encode("utf-8") if payload is not None else b""
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def answer(self, status, headers=None, body=None):
        self.answers.append((status, headers or {}, body))
        return self

    def _answer(self, req):
        if self.answers:
            return self.answers.pop(0)
        if req.method == "GET" and req.path == "/api/v1/experiments/definitions":
            # As the platform answers: a strong ETag of the content, max-age, and 304 for a match.
            body = json.dumps(self.definitions, sort_keys=True)
            etag = '"%08x"' % (zlib.crc32(body.encode("utf-8")))
            headers = {"ETag": etag, "Cache-Control": "private, max-age=%d" % self.max_age}
            if req.headers.get("If-None-Match") == etag:
                return 304, headers, None
            return 200, headers, self.definitions
        if req.path == "/api/v1/traces/batch":
            items = [{"index": i, "id": str(uuid.uuid4()), "external_id": t.get("external_id"), "status": "created"}
                     for i, t in enumerate(req.traces)]
            return 201, {}, {"items": items}
        if req.path.endswith("/scores"):
            return 201, {}, [{"id": str(uuid.uuid4()), "name": req.json.get("name")}]
        if req.method == "GET" and req.path.startswith("/api/v1/traces/"):
            trace_id = req.path.rsplit("/", 1)[1]
            return 200, {}, {"id": trace_id, "review": {"trace_id": trace_id, "status": "pending", "history": []}}
        return 404, {}, {"status": 404, "title": "Not found"}

    def wait_for(self, count, timeout=5.0):
        """Waits until at least ``count`` requests were answered; returns them."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.requests) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError("expected %d request(s), got %d" % (count, len(self.requests)))
                self._cond.wait(remaining)
            return list(self.requests)

    def batches(self):
        with self._cond:
            return [r for r in self.requests if r.path == "/api/v1/traces/batch"]

    def close(self):
        self.server.shutdown()
        self.server.server_close()
