"""@trace, ``with trace()`` and the Trace object, sent to a fake platform."""

import asyncio
import json
import logging
import os
import unittest
import uuid
from unittest import mock

import evalplatform
from evalplatform import Trace, current_trace
from fake_platform import FakePlatform
from test_client import ClientTestCase


class Boom(Exception):
    pass


class TracingTests(ClientTestCase):
    def sent(self, client):
        self.assertTrue(client.flush(5))
        return [t for b in self.platform.batches() for t in b.traces]

    def test_decorator_records_arguments_result_latency_and_fields_set_inside(self):
        c = self.client()

        @c.trace(tags=["unit"], environment="test")
        def answer(question, style="short"):
            t = current_trace()
            t.update(model="gpt-4o-mini", provider="openai")
            t.set_usage(prompt_tokens=12, completion_tokens=3)
            t.add_function_call("lookup", parameters={"q": question}, result={"hits": 1}, execution_time_ms=4.5)
            return {"text": "42"}

        self.assertEqual({"text": "42"}, answer("meaning of life?", style="long"))
        (sent,) = self.sent(c)
        self.assertTrue(sent["name"].endswith("answer"))
        self.assertEqual({"question": "meaning of life?", "style": "long"}, json.loads(sent["user_input"]))
        self.assertEqual({"text": "42"}, json.loads(sent["response"]))
        self.assertEqual("gpt-4o-mini", sent["model"])
        self.assertEqual({"prompt_tokens": 12, "completion_tokens": 3}, sent["usage"])
        self.assertEqual([{"name": "lookup", "parameters": {"q": "meaning of life?"}, "result": {"hits": 1}, "execution_time_ms": 4.5}],
                         sent["function_calls"])
        self.assertEqual(["unit"], sent["tags"])
        self.assertEqual("test", sent["environment"])
        self.assertGreaterEqual(sent["latency_ms"], 0)
        self.assertTrue(sent["start_time"].endswith("Z") and sent["end_time"] >= sent["start_time"])
        uuid.UUID(sent["external_id"])  # generated, so a retried send is idempotent
        self.assertNotIn("error", sent)
        self.assertIsNone(current_trace(), "the trace ends with the call")

    def test_lone_string_argument_is_the_user_input_and_self_is_left_out(self):
        c = self.client()

        class Bot(object):
            @c.trace("bot.reply")
            def reply(self, message):
                return "hi " + message

        self.assertEqual("hi ada", Bot().reply("ada"))
        (sent,) = self.sent(c)
        self.assertEqual(("bot.reply", "ada", "hi ada"), (sent["name"], sent["user_input"], sent["response"]))

    def test_decorator_records_the_exception_and_reraises_it_unchanged(self):
        c = self.client()
        error = Boom("model timed out")

        @c.trace
        def failing(x):
            raise error

        with self.assertRaises(Boom) as raised:
            failing(1)
        self.assertIs(error, raised.exception)
        (sent,) = self.sent(c)
        self.assertEqual("Boom: model timed out", sent["error"])
        self.assertNotIn("response", sent)

    def test_async_decorator(self):
        c = self.client()

        @c.trace(name="async.answer")
        async def answer(q):
            await asyncio.sleep(0.01)
            current_trace().model = "claude"
            return q.upper()

        @c.trace
        async def failing():
            await asyncio.sleep(0)
            raise Boom("async")

        async def main():
            results = await asyncio.gather(answer("a"), answer("b"))
            with self.assertRaises(Boom):
                await failing()
            return results

        self.assertEqual(["A", "B"], asyncio.run(main()))
        sent = self.sent(c)
        ok = sorted((t["user_input"], t["response"], t["model"]) for t in sent if t["name"] == "async.answer")
        self.assertEqual([("a", "A", "claude"), ("b", "B", "claude")], ok)
        self.assertEqual(["Boom: async"], [t["error"] for t in sent if "error" in t])
        self.assertGreaterEqual(min(t["latency_ms"] for t in sent if t["name"] == "async.answer"), 10)

    def test_context_manager_and_async_context_manager(self):
        c = self.client()
        with c.trace("block", session_id="s1") as t:
            t.user_input = "hello"
            t.response = "world"
            t.metadata["route"] = "a"
            self.assertIs(t, current_trace())
        with self.assertRaises(Boom):
            with c.trace("failing block"):
                raise Boom("inside")

        async def main():
            async with c.trace("async block") as t:
                t.response = "done"
        asyncio.run(main())

        sent = dict((t["name"], t) for t in self.sent(c))
        self.assertEqual(("hello", "world", "s1", {"route": "a"}),
                         tuple(sent["block"][k] for k in ("user_input", "response", "session_id", "metadata")))
        self.assertEqual("Boom: inside", sent["failing block"]["error"])
        self.assertEqual("done", sent["async block"]["response"])

    def test_unknown_fields_are_ignored_with_a_warning(self):
        c = self.client()
        with self.assertLogs("evalplatform", logging.WARNING) as logs:
            with c.trace("x", colour="blue") as t:
                t.update(flavour="mint", model="m")
        (sent,) = self.sent(c)
        self.assertNotIn("colour", sent)
        self.assertNotIn("flavour", sent)
        self.assertEqual("m", sent["model"])
        self.assertEqual(2, len(logs.records))

    def test_full_shape_wins_over_captured_inputs(self):
        c = self.client()

        @c.trace
        def chat(q):
            current_trace().messages = [{"role": "user", "content": q}, {"role": "assistant", "content": "ok"}]
            return "ok"

        chat("hi")
        (sent,) = self.sent(c)
        self.assertNotIn("user_input", sent)
        self.assertNotIn("response", sent)
        self.assertEqual(2, len(sent["messages"]))

    def test_trace_gets_its_platform_id_and_can_be_scored_and_its_review_read(self):
        c = self.client()
        with c.trace("scored") as t:
            t.response = "r"
        stored = c.score(t, "helpfulness", 0.9, comment="good", data_type="numeric")  # flushes to learn the id
        self.assertIsNotNone(t.id)
        self.assertEqual("helpfulness", stored[0]["name"])
        score = [r for r in self.platform.requests if r.path.endswith("/scores")][0]
        self.assertEqual("/api/v1/traces/%s/scores" % t.id, score.path)
        self.assertEqual({"name": "helpfulness", "value": 0.9, "comment": "good", "data_type": "numeric"}, score.json)
        self.assertEqual("pending", c.get_review(t)["status"])
        self.assertEqual(t.id, c.get_review(t.id)["trace_id"])

    def test_module_level_trace_uses_the_default_client(self):
        env = {"EVALPLATFORM_ENDPOINT": self.platform.url, "EVALPLATFORM_API_KEY": "ep_default"}
        with mock.patch.dict(os.environ, env):
            evalplatform.configure(flush_interval=60, register_atexit=False)

        @evalplatform.trace
        def hello(name):
            return "hello " + name

        try:
            hello("bob")
            client = evalplatform.get_client()
            self.assertTrue(client.flush(5))
            self.assertEqual("hello bob", self.platform.batches()[0].traces[0]["response"])
            self.assertEqual("Bearer ep_default", self.platform.requests[0].headers["Authorization"])
        finally:
            evalplatform.get_client().close()

    def test_trace_object_sent_by_hand(self):
        c = self.client()
        t = Trace(c, "manual", model="m", user_input="u")
        t.end(response="r")
        t.end(response="ignored")  # only the first end counts
        (sent,) = self.sent(c)
        self.assertEqual(("manual", "m", "u", "r"), (sent["name"], sent["model"], sent["user_input"], sent["response"]))


if __name__ == "__main__":
    unittest.main()
