"""The batcher against a scripted fake platform: triggers, retries, drops, counters."""

import email.utils
import logging
import os
import subprocess
import sys
import time
import unittest
from unittest import mock

from evalplatform import Client
from evalplatform._http import parse_retry_after
from fake_platform import FakePlatform, free_port

FOREVER = 60.0  # an interval no test waits for


def trace(name, **fields):
    fields.update({"name": name, "external_id": "ext-" + name, "user_input": "q " + name, "response": "a " + name})
    return fields


class ClientTestCase(unittest.TestCase):
    def setUp(self):
        self.platform = FakePlatform()
        self.clients = []
        logging.getLogger("evalplatform").setLevel(logging.ERROR)  # the warnings are expected here

    def tearDown(self):
        for c in self.clients:
            c.close(timeout=1)
        self.platform.close()
        logging.getLogger("evalplatform").setLevel(logging.NOTSET)

    def client(self, **options):
        options.setdefault("endpoint", self.platform.url)
        options.setdefault("api_key", "ep_test")
        options.setdefault("flush_interval", FOREVER)
        options.setdefault("backoff_base", 0.05)
        options.setdefault("register_atexit", False)
        c = Client(**options)
        self.clients.append(c)
        return c


class TriggerTests(ClientTestCase):
    def test_size_trigger_sends_a_full_batch_without_waiting(self):
        c = self.client(batch_size=3)
        for i in range(5):
            c.send(trace("t%d" % i))
        batch = self.platform.wait_for(1)[0]
        self.assertEqual(["t0", "t1", "t2"], [t["name"] for t in batch.traces])
        self.assertEqual("Bearer ep_test", batch.headers["Authorization"])
        time.sleep(0.3)
        self.assertEqual(1, len(self.platform.requests), "the two left wait for the next trigger")
        self.assertEqual(2, c.stats["pending"])

    def test_time_trigger_sends_a_partial_batch_after_the_interval(self):
        c = self.client(batch_size=100, flush_interval=0.3)
        started = time.monotonic()
        c.send(trace("only"))
        batch = self.platform.wait_for(1)[0]
        self.assertGreaterEqual(batch.at - started, 0.25)
        self.assertLess(batch.at - started, 2.0)
        self.assertEqual(["only"], [t["name"] for t in batch.traces])
        self.assertTrue(c.flush(2))
        self.assertEqual(1, c.stats["sent"])

    def test_close_flushes_what_is_buffered(self):
        c = self.client(batch_size=100)
        c.send(trace("a"))
        c.send(trace("b"))
        self.assertTrue(c.close(timeout=5))
        self.assertEqual(["a", "b"], [t["name"] for t in self.platform.batches()[0].traces])
        self.assertEqual({"sent": 2, "pending": 0, "dropped": 0, "failed": 0},
                         dict((k, c.stats[k]) for k in ("sent", "pending", "dropped", "failed")))
        c.send(trace("late"))  # after close: counted, not raised
        self.assertEqual(1, c.stats["failed"])

    def test_bounded_buffer_drops_the_oldest_and_counts(self):
        c = self.client(batch_size=100, max_queue_size=3)
        for i in range(5):
            c.send(trace("t%d" % i))
        self.assertEqual(2, c.stats["dropped_overflow"])
        self.assertEqual(2, c.stats["dropped"])
        self.assertEqual(3, c.stats["pending"])
        self.assertTrue(c.flush(5))
        self.assertEqual(["t2", "t3", "t4"], [t["name"] for t in self.platform.batches()[0].traces])

    def test_batches_respect_the_byte_limit(self):
        c = self.client(batch_size=100, max_batch_bytes=600)
        for i in range(4):
            c.send(trace("t%d" % i, metadata={"pad": "x" * 200}))
        self.assertTrue(c.flush(5))
        sizes = [len(b.traces) for b in self.platform.batches()]
        self.assertEqual(4, sum(sizes))
        self.assertGreater(len(sizes), 1)


class RetryTests(ClientTestCase):
    def test_retry_after_seconds_is_honoured_on_503(self):
        self.platform.answer(503, {"Retry-After": "1"}, {"status": 503, "title": "Busy"})
        c = self.client()
        c.send(trace("a"))
        self.assertTrue(c.flush(5))
        first, second = self.platform.wait_for(2)
        self.assertGreaterEqual(second.at - first.at, 0.95)
        self.assertEqual(first.raw, second.raw, "a retry sends the same content (same external_id)")
        self.assertEqual(1, c.stats["sent"])

    def test_retry_after_http_date_is_honoured_on_429(self):
        when = email.utils.formatdate(time.time() + 2, usegmt=True)  # whole seconds: waits 1 to 2 s
        self.platform.answer(429, {"Retry-After": when}, {"status": 429, "title": "Too many requests"})
        c = self.client()
        c.send(trace("a"))
        self.assertTrue(c.flush(5))
        first, second = self.platform.wait_for(2)
        self.assertGreaterEqual(second.at - first.at, 0.9)
        self.assertEqual(1, c.stats["sent"])

    def test_backoff_grows_on_500(self):
        self.platform.answer(500).answer(500).answer(502)
        c = self.client(backoff_base=0.2)
        c.send(trace("a"))
        self.assertTrue(c.flush(5))
        r = self.platform.wait_for(4)
        gaps = [r[i + 1].at - r[i].at for i in range(3)]
        # steps 0.2, 0.4, 0.8 with equal jitter: each wait is at least half its step
        self.assertGreaterEqual(gaps[0], 0.1)
        self.assertGreaterEqual(gaps[1], 0.2)
        self.assertGreaterEqual(gaps[2], 0.4)
        self.assertEqual(1, c.stats["sent"])

    def test_gives_up_after_max_retries_and_counts_failed(self):
        for _ in range(3):
            self.platform.answer(500)
        c = self.client(max_retries=2)
        c.send(trace("a"))
        self.assertTrue(c.flush(5))
        self.assertEqual(3, len(self.platform.requests))
        self.assertEqual(1, c.stats["failed"])
        self.assertEqual(0, c.stats["sent"])

    def test_connection_refused_is_retried_until_the_platform_answers(self):
        port = free_port()
        c = self.client(endpoint="http://127.0.0.1:%d" % port, backoff_base=0.1, backoff_max=0.2, max_retries=50)
        c.send(trace("a"))
        self.assertFalse(c.flush(0.5), "nothing listens yet: still pending")
        late = FakePlatform(port=port)
        try:
            self.assertTrue(c.flush(5))
            self.assertEqual(["a"], [t["name"] for t in late.batches()[0].traces])
            self.assertEqual(1, c.stats["sent"])
        finally:
            late.close()

    def test_400_drops_only_the_named_traces_and_resends_the_rest(self):
        self.platform.answer(400, {}, {"status": 400, "title": "Invalid trace",
                                       "errors": {"traces[1].model": ["Must be a string."]}})
        c = self.client()
        for i in range(3):
            c.send(trace("t%d" % i))
        self.assertTrue(c.flush(5))
        first, second = self.platform.wait_for(2)
        self.assertEqual(3, len(first.traces))
        self.assertEqual(["t0", "t2"], [t["name"] for t in second.traces])
        self.assertEqual(1, c.stats["dropped_invalid"])
        self.assertEqual(2, c.stats["sent"])
        self.assertEqual(2, len(self.platform.requests), "no retry of the refused trace")

    def test_409_drops_the_conflicting_trace_and_resends_the_rest(self):
        self.platform.answer(409, {}, {"status": 409, "title": "Conflict",
                                       "errors": {"traces[0].external_id": ["A different trace ..."]}})
        c = self.client()
        c.send(trace("t0"))
        c.send(trace("t1"))
        self.assertTrue(c.flush(5))
        self.assertEqual(["t1"], [t["name"] for t in self.platform.wait_for(2)[1].traces])
        self.assertEqual(1, c.stats["dropped_conflict"])
        self.assertEqual(1, c.stats["sent"])

    def test_400_without_item_paths_drops_the_batch(self):
        self.platform.answer(400, {}, {"status": 400, "title": "Bad"})
        c = self.client()
        c.send(trace("a"))
        c.send(trace("b"))
        self.assertTrue(c.flush(5))
        self.assertEqual(1, len(self.platform.requests))
        self.assertEqual(2, c.stats["dropped_invalid"])

    def test_401_is_not_retried(self):
        self.platform.answer(401, {}, {"status": 401, "detail": "Unknown API key."})
        c = self.client()
        c.send(trace("a"))
        self.assertTrue(c.flush(5))
        time.sleep(0.2)
        self.assertEqual(1, len(self.platform.requests))
        self.assertEqual(1, c.stats["failed"])

    def test_413_splits_the_batch(self):
        self.platform.answer(413)
        c = self.client()
        c.send(trace("a"))
        c.send(trace("b"))
        self.assertTrue(c.flush(5))
        self.assertEqual([2, 1, 1], [len(b.traces) for b in self.platform.batches()])
        self.assertEqual(2, c.stats["sent"])


class PerItemAnswerTests(ClientTestCase):
    """The platform stores every valid trace of a batch and lists each one's fate (ADR 13)."""

    def partial(self):
        return {"stored": 2, "skipped": 2, "adjusted": 1, "items": [
            {"index": 0, "id": "id-0", "external_id": "ext-t0", "status": "created"},
            {"index": 1, "id": None, "external_id": "ext-t1", "status": "skipped",
             "errors": [{"field": "traces[1].usage.prompt_tokens", "message": "Must not be negative."}]},
            {"index": 2, "id": None, "external_id": "ext-t2", "status": "conflict",
             "errors": [{"field": "traces[2].external_id", "message": "A different trace ..."}]},
            {"index": 3, "id": "id-3", "external_id": "ext-t3", "status": "created",
             "adjustments": [{"field": "traces[3].end_time", "message": "end_time was 500 us before start_time ..."}]},
        ]}

    def test_a_partial_answer_counts_each_fate_and_resends_nothing(self):
        self.platform.answer(200, {}, self.partial())
        c = self.client()
        for i in range(4):
            c.send(trace("t%d" % i))
        with self.assertLogs("evalplatform", logging.WARNING) as logs:
            self.assertTrue(c.flush(5))
        time.sleep(0.2)
        self.assertEqual(1, len(self.platform.requests), "neither the stored nor the skipped traces are sent again")
        s = c.stats
        self.assertEqual((2, 1, 1, 1, 0), (s["sent"], s["adjusted"], s["dropped_invalid"], s["dropped_conflict"], s["failed"]))
        self.assertIn("traces[1].usage.prompt_tokens: Must not be negative.", "\n".join(logs.output))

    def test_each_trace_gets_its_own_outcome(self):
        self.platform.answer(200, {}, self.partial())
        c = self.client()
        traces = []
        for i in range(4):
            t = c.trace("t%d" % i)
            with t as handle:
                pass
            traces.append(handle)
        self.assertTrue(c.flush(5))
        self.assertEqual(["created", "skipped", "conflict", "created"], [t.outcome["status"] for t in traces])
        self.assertEqual(["id-0", None, None, "id-3"], [t.id for t in traces])
        self.assertEqual("traces[1].usage.prompt_tokens", traces[1].outcome["errors"][0]["field"])
        self.assertEqual("traces[3].end_time", traces[3].outcome["adjustments"][0]["field"])

    def test_nothing_stored_drops_every_listed_trace_once(self):
        self.platform.answer(400, {}, {"status": 400, "title": "No trace could be stored",
                                       "errors": {"traces[0].model": ["Must be a string."], "traces[1].external_id": ["A different trace ..."]},
                                       "items": [{"index": 0, "id": None, "status": "skipped", "errors": [{"field": "traces[0].model", "message": "Must be a string."}]},
                                                 {"index": 1, "id": None, "status": "conflict", "errors": [{"field": "traces[1].external_id", "message": "A different trace ..."}]}]})
        c = self.client()
        c.send(trace("a"))
        c.send(trace("b"))
        self.assertTrue(c.flush(5))
        time.sleep(0.2)
        self.assertEqual(1, len(self.platform.requests))
        self.assertEqual((0, 1, 1), (c.stats["sent"], c.stats["dropped_invalid"], c.stats["dropped_conflict"]))


class ExitTests(ClientTestCase):
    SCRIPT = ("import evalplatform\n"
              "c = evalplatform.Client(flush_interval=60, shutdown_timeout=0.5, backoff_base=0.1)\n"
              "c.send({'name': 'at-exit'})\n")

    def run_script(self, endpoint):
        env = dict(os.environ, EVALPLATFORM_ENDPOINT=endpoint, EVALPLATFORM_API_KEY="ep_exit",
                   PYTHONPATH=os.pathsep.join(sys.path))
        started = time.monotonic()
        result = subprocess.run([sys.executable, "-c", self.SCRIPT], env=env, capture_output=True, timeout=30)
        return result.returncode, time.monotonic() - started

    def test_interpreter_exit_sends_what_is_buffered(self):
        code, _ = self.run_script(self.platform.url)
        self.assertEqual(0, code)
        self.assertEqual(["at-exit"], [t["name"] for b in self.platform.batches() for t in b.traces])

    def test_with_the_platform_down_exit_waits_shutdown_timeout_at_most(self):
        code, seconds = self.run_script("http://127.0.0.1:%d" % free_port())
        self.assertEqual(0, code)
        self.assertLess(seconds, 5)

    def test_close_stops_waiting_between_retries_and_counts_the_batch_failed(self):
        self.platform.answer(503, {"Retry-After": "30"})
        c = self.client()
        c.send(trace("a"))
        started = time.monotonic()
        self.assertFalse(c.close(timeout=0.3))
        self.assertLess(time.monotonic() - started, 2)
        self.assertEqual(1, c.stats["failed"])
        self.assertEqual(0, c.stats["pending"])


class NeverRaisesTests(ClientTestCase):
    def test_nothing_raises_when_the_platform_is_down(self):
        down = "http://127.0.0.1:%d" % free_port()
        c = self.client(endpoint=down, max_retries=1, backoff_base=0.01)

        @c.trace
        def answer(q):
            return "fine"

        self.assertEqual("fine", answer("hi"))
        c.send({"name": "manual"})
        c.send(object())  # not even a trace: logged, not raised
        self.assertIsNone(c.score("0193a6d4-0000-7000-8000-000000000000", "quality", 1))
        self.assertIsNone(c.get_review("0193a6d4-0000-7000-8000-000000000000"))
        self.assertTrue(c.flush(5))
        self.assertEqual(2, c.stats["failed"])
        self.assertTrue(c.close(2))

    def test_unconfigured_client_drops_quietly(self):
        with mock.patch.dict(os.environ, {}, clear=True):
            c = Client(register_atexit=False)
        self.assertFalse(c.enabled)
        c.send({"name": "x"})
        self.assertTrue(c.flush(1))
        self.assertIsNone(c.get_review("x"))
        self.assertTrue(c.close())


class ConfigurationTests(ClientTestCase):
    def test_endpoint_and_key_come_from_the_environment(self):
        env = {"EVALPLATFORM_ENDPOINT": self.platform.url + "/", "EVALPLATFORM_API_KEY": "ep_from_env"}
        with mock.patch.dict(os.environ, env):
            c = Client(register_atexit=False)
        self.clients.append(c)
        c.send(trace("a"))
        self.assertTrue(c.flush(5))
        self.assertEqual("Bearer ep_from_env", self.platform.requests[0].headers["Authorization"])

    def test_parse_retry_after(self):
        self.assertEqual(3.0, parse_retry_after("3"))
        self.assertEqual(0.0, parse_retry_after("-1"))
        self.assertIsNone(parse_retry_after(None))
        self.assertIsNone(parse_retry_after("soon"))
        date = email.utils.formatdate(1000010, usegmt=True)
        self.assertAlmostEqual(10.0, parse_retry_after(date, now=1000000), places=3)
        self.assertEqual(0.0, parse_retry_after(date, now=2000000))


if __name__ == "__main__":
    unittest.main()
