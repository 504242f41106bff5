"""Sends one trace the way the LangSmith Python SDK does, with the standard library only.

The real `langsmith` package cannot be installed here (no package index), so this mimics its
background thread: GET /info, then POST /runs/multipart with the parts that
`_operations.serialized_run_operation_to_multipart_parts_and_context` makes (encoded as
requests-toolbelt's MultipartEncoder does), a later batch with the root's patch, and a retry of the
first batch (which must answer 409, "already have it"). Prints the root run id on success.

Environment: LANGSMITH_ENDPOINT, LANGSMITH_API_KEY (as the SDK reads them).
"""

import datetime
import json
import os
import sys
import urllib.error
import urllib.request
import uuid

ENDPOINT = os.environ["LANGSMITH_ENDPOINT"].rstrip("/")
API_KEY = os.environ["LANGSMITH_API_KEY"]


def dumps(value):
    # orjson's output: compact, UTF-8.
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def request(method, path, body=None, content_type=None):
    req = urllib.request.Request(ENDPOINT + path, data=body, method=method)
    req.add_header("x-api-key", API_KEY)
    req.add_header("User-Agent", "langsmith-py/0.4.1")
    if content_type:
        req.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


class Run:
    """The fields RunTree posts, with dotted_order built as run_trees.py does."""

    def __init__(self, name, run_type, inputs, parent=None, metadata=None):
        self.id = uuid.uuid4()
        self.start = datetime.datetime.now(datetime.timezone.utc)
        segment = self.start.strftime("%Y%m%dT%H%M%S%fZ") + str(self.id)
        self.parent = parent
        self.trace_id = parent.trace_id if parent else self.id
        self.dotted_order = parent.dotted_order + "." + segment if parent else segment
        self.name, self.run_type, self.inputs = name, run_type, inputs
        self.metadata = dict(metadata or {})
        self.outputs, self.end, self.events = None, None, None

    def payload(self):
        return {
            "id": str(self.id), "name": self.name, "run_type": self.run_type,
            "start_time": self.start.isoformat(), "end_time": self.end.isoformat() if self.end else None,
            "extra": {"metadata": self.metadata, "runtime": {"sdk": "langsmith-py", "sdk_version": "0.4.1", "runtime": "python"}},
            "error": None, "serialized": {"name": self.name},
            "parent_run_id": str(self.parent.id) if self.parent else None,
            "trace_id": str(self.trace_id), "dotted_order": self.dotted_order,
            "session_name": "sdk-mimic", "tags": ["mimic"] if not self.parent else [],
            "reference_example_id": None,
            "inputs": self.inputs, "outputs": self.outputs, "events": self.events,
        }


def parts_for(operation, payload):
    """serialize_run_dict + serialized_run_operation_to_multipart_parts_and_context."""
    big = {key: payload.pop(key, None) for key in ("inputs", "outputs", "events")}
    run_id = payload["id"]
    parts = [(f"{operation}.{run_id}", dumps(payload))]
    for key, value in big.items():
        if value is not None:
            parts.append((f"{operation}.{run_id}.{key}", dumps(value)))
    return parts


def encode(parts):
    """requests-toolbelt MultipartEncoder framing, each part application/json with its length."""
    boundary = uuid.uuid4().hex
    chunks = []
    for name, data in parts:
        chunks.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n'
            f"Content-Type: application/json; length={len(data)}\r\nContent-Length: {len(data)}\r\n\r\n".encode())
        chunks.append(data)
        chunks.append(b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


def main():
    status, body = request("GET", "/info")
    info = json.loads(body) if status == 200 else {}
    if not info.get("batch_ingest_config", {}).get("use_multipart_endpoint", True):
        sys.exit("server does not take multipart")
    if info.get("instance_flags", {}).get("zstd_compression_enabled"):
        sys.exit("server asks for zstd, which this mimic does not send")

    root = Run("support-agent", "chain", {"question": "Where is order 42?"}, metadata={"thread_id": "mimic-thread"})
    llm = Run("ChatOpenAI", "llm", {"messages": [{"role": "system", "content": "Be brief."},
                                                 {"role": "user", "content": "Where is order 42?"}]},
              parent=root, metadata={"ls_provider": "openai", "ls_model_name": "gpt-4o-mini"})
    llm.end = llm.start + datetime.timedelta(milliseconds=400)
    llm.outputs = {"choices": [{"message": {"role": "assistant", "content": None, "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "lookup_order", "arguments": "{\"order_id\":42}"}}]}}],
        "usage_metadata": {"input_tokens": 31, "output_tokens": 12, "total_tokens": 43}}
    tool = Run("lookup_order", "tool", {"order_id": 42}, parent=root)
    tool.end = tool.start + datetime.timedelta(milliseconds=25)
    tool.outputs = {"output": {"status": "shipped"}}

    # First batch: the root's post (still running), and both children already complete
    # (their post and patch merged client-side, as combine_serialized_queue_operations does).
    first = []
    for run in (root, llm, tool):
        first += parts_for("post", run.payload())
    first_body, first_type = encode(first)
    status, body = request("POST", "/runs/multipart", first_body, first_type)
    if status not in (200, 202):
        sys.exit(f"first batch: {status} {body!r}")

    root.end = root.start + datetime.timedelta(seconds=1)
    root.outputs = {"answer": "Order 42 has shipped."}
    patch = root.payload()
    patch["inputs"] = None
    status, body = request("POST", "/runs/multipart", *encode(parts_for("patch", patch)))
    if status not in (200, 202):
        sys.exit(f"patch batch: {status} {body!r}")

    # A retry of the first batch (say its answer was lost): the SDK takes 409 as "already have it".
    status, body = request("POST", "/runs/multipart", first_body, first_type)
    if status != 409:
        sys.exit(f"retried batch: expected 409, got {status} {body!r}")

    print(root.id)


if __name__ == "__main__":
    main()
