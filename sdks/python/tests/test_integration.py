"""The SDK against the real app (the Release build, on SQLite, as its own process)."""

import json
import logging
import threading
import unittest
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from evalplatform import Client, current_trace
from platform_app import PlatformApp

app = None  # type: PlatformApp


def setUpModule():
    global app
    app = PlatformApp()


def tearDownModule():
    if app is not None:
        app.stop()


class LosesFirstAnswerProxy(object):
    """Forwards to the app, but answers the first batch with 502 after the app committed it,
    as a proxy that lost the answer would: the SDK must retry, and the retry must not double."""

    def __init__(self, target):
        self.forwarded = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                req = urllib.request.Request(target + self.path, data=body, method="POST", headers={
                    "Authorization": self.headers["Authorization"], "Content-Type": "application/json"})
                try:
                    with urllib.request.urlopen(req, timeout=10) as resp:
                        status, answer = resp.status, resp.read()
                except urllib.error.HTTPError as e:
                    status, answer = e.code, e.read()
                proxy.forwarded.append((status, json.loads(answer)))
                if len(proxy.forwarded) == 1:
                    status, answer = 502, b'{"status":502,"title":"Bad gateway"}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class IntegrationTests(unittest.TestCase):
    def setUp(self):
        self.session = "py-" + uuid.uuid4().hex
        self.client = Client(app.url, app.api_key, batch_size=10, flush_interval=0.2, backoff_base=0.05,
                             register_atexit=False)

    def tearDown(self):
        self.client.close(timeout=5)

    def count_in_session(self):
        status, page = app.request("GET", "/api/v1/traces?limit=200&session_id=" + self.session)
        self.assertEqual(200, status, page)
        return len(page["items"])

    def test_traces_sent_through_the_batcher_read_back_with_their_fields(self):
        c = self.client

        @c.trace(session_id=self.session, environment="sdk-test", tags=["py"])
        def answer(question):
            t = current_trace()
            t.update(model="gpt-4o-mini", provider="openai", system_prompt="Be brief.", metadata={"route": "faq"})
            t.set_usage(prompt_tokens=21, completion_tokens=5)
            t.add_function_call("lookup_order", parameters={"id": 1234}, result={"status": "shipped"}, execution_time_ms=42)
            return "It shipped."

        with c.trace("manual", session_id=self.session, user_input="hi", response="hello", model="m-1") as manual:
            pass
        self.assertEqual("It shipped.", answer("Where is my order?"))
        decorated_handle = None
        self.assertTrue(c.flush(10))
        self.assertEqual({"sent": 2, "dropped": 0, "failed": 0, "pending": 0},
                         dict((k, c.stats[k]) for k in ("sent", "dropped", "failed", "pending")))
        self.assertEqual(2, self.count_in_session())

        status, page = app.request("GET", "/api/v1/traces?session_id=%s&model=gpt-4o-mini" % self.session)
        decorated_handle = page["items"][0]["id"]
        stored = c.get_trace(decorated_handle)
        self.assertTrue(stored["name"].endswith("answer"))
        self.assertEqual(("gpt-4o-mini", "openai", 21, 5, 26), tuple(stored[k] for k in (
            "model", "provider", "prompt_tokens", "completion_tokens", "total_tokens")))
        self.assertEqual((self.session, "sdk-test", ["py"], {"route": "faq"}),
                         (stored["session_id"], stored["environment"], stored["tags"], stored["metadata"]))
        uuid.UUID(stored["external_id"])
        self.assertIsNotNone(stored["latency_ms"])
        llm = [s for s in stored["spans"] if s["kind"] == "llm"][0]
        self.assertEqual([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Where is my order?"}],
                         llm["input"]["messages"])
        self.assertEqual("It shipped.", llm["output"]["content"])
        tool = [s for s in stored["spans"] if s["kind"] == "tool"][0]
        self.assertEqual(("lookup_order", {"id": 1234}, {"status": "shipped"}, 42),
                         (tool["name"], tool["input"], tool["output"], tool["duration_ms"]))

        self.assertIsNotNone(manual.id, "the batch answer gives each trace its platform id")
        self.assertEqual(("manual", "m-1", manual.external_id), tuple(c.get_trace(manual)[k] for k in ("name", "model", "external_id")))

    def test_a_retried_batch_is_not_stored_twice(self):
        proxy = LosesFirstAnswerProxy(app.url)
        c = Client(proxy.url, app.api_key, batch_size=3, flush_interval=60, backoff_base=0.05, register_atexit=False)
        try:
            handles = []
            for i in range(3):
                with c.trace("retried-%d" % i, session_id=self.session, user_input="q%d" % i) as t:
                    handles.append(t)
            self.assertTrue(c.flush(10))
            self.assertEqual(2, len(proxy.forwarded))
            (first_status, first), (second_status, second) = proxy.forwarded
            self.assertEqual((201, 200), (first_status, second_status))
            self.assertEqual(["created"] * 3, [i["status"] for i in first["items"]])
            self.assertEqual(["existing"] * 3, [i["status"] for i in second["items"]])
            self.assertEqual([i["id"] for i in first["items"]], [t.id for t in handles])
            self.assertEqual(3, c.stats["sent"])
            self.assertEqual(3, self.count_in_session())
        finally:
            c.close(timeout=2)
            proxy.close()

    def test_refused_and_conflicting_traces_are_dropped_and_the_rest_stored(self):
        c = self.client
        taken = "py-taken-" + uuid.uuid4().hex
        c.send({"external_id": taken, "session_id": self.session, "user_input": "first"})
        self.assertTrue(c.flush(10))
        logging.getLogger("evalplatform").setLevel(logging.ERROR)
        try:
            c.send({"name": "good-1", "session_id": self.session})
            c.send({"name": "bad", "session_id": self.session, "usage": {"prompt_tokens": -1}})
            c.send({"external_id": taken, "session_id": self.session, "user_input": "different"})
            c.send({"name": "good-2", "session_id": self.session})
            self.assertTrue(c.flush(10))
        finally:
            logging.getLogger("evalplatform").setLevel(logging.NOTSET)
        s = c.stats
        self.assertEqual((3, 1, 1, 0), (s["sent"], s["dropped_invalid"], s["dropped_conflict"], s["failed"]))
        self.assertEqual(3, self.count_in_session())

    def test_a_skipped_trace_gets_its_reasons_and_an_adjusted_one_is_stored(self):
        c = self.client
        logging.getLogger("evalplatform").setLevel(logging.ERROR)
        try:
            with c.trace("fine", session_id=self.session) as fine:
                fine.response = "ok"
            with c.trace("bad", session_id=self.session) as bad:
                bad.usage = {"prompt_tokens": -1}
            with c.trace("skewed", session_id=self.session) as skewed:
                # An end half a millisecond before the start: stored with zero length, the original kept.
                skewed.start_time = "2026-11-01T10:00:00.0005Z"
                skewed.end_time = "2026-11-01T10:00:00Z"
            self.assertTrue(c.flush(10))
        finally:
            logging.getLogger("evalplatform").setLevel(logging.NOTSET)
        self.assertEqual("created", fine.outcome["status"])
        self.assertEqual("skipped", bad.outcome["status"])
        self.assertIsNone(bad.id)
        self.assertTrue(any(e["field"].endswith("usage.prompt_tokens") for e in bad.outcome["errors"]), bad.outcome)
        self.assertEqual("created", skewed.outcome["status"])
        self.assertTrue(skewed.outcome["adjustments"][0]["field"].endswith("].end_time"), skewed.outcome)
        self.assertEqual((2, 1, 1, 0), (c.stats["sent"], c.stats["adjusted"], c.stats["dropped_invalid"], c.stats["failed"]))
        self.assertEqual(2, self.count_in_session())
        status, stored = app.request("GET", "/api/v1/traces/" + skewed.id)
        self.assertEqual(200, status, stored)
        self.assertEqual("2026-11-01T10:00:00+00:00", stored["metadata"]["evalplatform.original_end_time"][:19] + "+00:00")

    def test_score_is_stored_and_visible(self):
        c = self.client
        with c.trace("to score", session_id=self.session, response="r") as t:
            pass
        stored = c.score(t, "helpfulness", 0.75, comment="clear")
        self.assertEqual("helpfulness", stored[0]["name"])
        c.score(t.id, "on_topic", True)
        scores = dict((s["name"], s) for s in c.get_trace(t)["scores"])
        self.assertEqual((0.75, "clear", "api"), (scores["helpfulness"]["numeric_value"], scores["helpfulness"]["comment"],
                                                  scores["helpfulness"]["source"]))
        self.assertEqual("boolean", scores["on_topic"]["data_type"])

    def test_review_made_through_the_api_is_read_back(self):
        c = self.client
        with c.trace("to review", session_id=self.session, user_input="q", response="made up") as t:
            pass
        self.assertEqual("pending", c.get_review(t)["status"])
        status, body = app.request("POST", "/api/v1/traces/%s/review" % t.id,
                                   {"action": "reject", "reason": "hallucination", "note": "Invents a number."})
        self.assertEqual(200, status, body)
        review = c.get_review(t)
        self.assertEqual(("rejected", "hallucination", "Invents a number."), (review["status"], review["reason"], review["note"]))
        self.assertEqual(["reject"], [h["action"] for h in review["history"]])


if __name__ == "__main__":
    unittest.main()
