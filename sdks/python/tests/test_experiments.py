"""Assignment by local evaluation: GrowthBook's v2 hash and ranges, the cached definitions, traces."""

import logging
import unittest

from evalplatform import Client, Trace, bucket_ranges, choose_variant, hash_unit
from evalplatform.experiments import ExperimentDefinitions, fnv1a32
from fake_platform import FakePlatform, free_port

# Computed with @growthbook/growthbook 1.8.0 (the shared reference's table).
VECTORS = [
    ("checkout-test", "user-1", 0.6947),
    ("checkout-test", "user-2", 0.472),
    ("checkout-test", "42", 0.8101),
    ("prompt-v2", "session-abc", 0.687),
    ("prompt-v2", "us\u00e9r-\u00e9", 0.2465),
    ("prompt-v2", "id-\U0001F600", 0.1595),
]

CHECKOUT = {
    "key": "checkout-test", "seed": "checkout-test", "hash_version": 2, "unit": "user_id", "coverage": 0.9,
    "status": "running", "filters": {"environment": "production"},
    "variants": [
        {"key": "control", "weight": 0.5, "config": {"model": "gpt-4o-mini"}},
        {"key": "b", "weight": 0.3, "config": {"model": "gpt-4o"}},
        {"key": "c", "weight": 0.2, "config": {"model": "claude"}},
    ],
}


class Clock(object):
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class HashTests(unittest.TestCase):
    def test_hash_v2_matches_growthbook_vectors(self):
        for seed, unit, expected in VECTORS:
            self.assertAlmostEqual(expected, hash_unit(seed, unit), places=9, msg="%s/%s" % (seed, unit))

    def test_fnv_runs_over_utf16_code_units(self):
        # FNV-1a's published test vector: "a" -> 0xe40c292c. An emoji outside the BMP is two code
        # units (a surrogate pair), so hashing its code point instead gives another value.
        self.assertEqual(0xE40C292C, fnv1a32("a"))
        self.assertEqual(0x811C9DC5, fnv1a32(""))
        surrogates = 0x811C9DC5
        for unit in (0xD83D, 0xDE00):
            surrogates = ((surrogates ^ unit) * 16777619) & 0xFFFFFFFF
        self.assertEqual(surrogates, fnv1a32("\U0001F600"))

    def test_ranges_and_choices_match_the_reference(self):
        ranges = bucket_ranges(3, 0.9, [0.5, 0.3, 0.2])
        expected = [(0, 0.45), (0.5, 0.77), (0.8, 0.98)]
        for (start, end), (xs, xe) in zip(ranges, expected):
            self.assertAlmostEqual(xs, start, places=12)
            self.assertAlmostEqual(xe, end, places=12)
        chosen = dict((u, choose_variant(hash_unit("checkout-test", u), ranges))
                      for u in ("user-1", "user-2", "user-3", "user-4", "user-5", "us\u00e9r-\u00e9"))
        self.assertEqual({"user-1": 1, "user-2": -1, "user-3": 1, "user-4": 2, "user-5": -1, "us\u00e9r-\u00e9": 1}, chosen)

    def test_weights_that_do_not_add_up_become_equal_and_coverage_is_clamped(self):
        self.assertEqual([(0, 0.5), (0.5, 1.0)], bucket_ranges(2, 1, [0.7, 0.7]))
        self.assertEqual([(0, 0.5), (0.5, 1.0)], bucket_ranges(2, 1, [1.0]))
        self.assertEqual([(0, 0.5), (0.5, 1.0)], bucket_ranges(2, 7))
        self.assertEqual([(0, 0), (0.5, 0.5)], bucket_ranges(2, -1))
        self.assertEqual(-1, choose_variant(0.3, bucket_ranges(2, 0)))

    def test_a_large_population_splits_by_the_weights(self):
        # 100,000 ids at 0.5/0.3/0.2 with coverage 0.9: each share within 4 standard errors of 0.9·w.
        ranges = bucket_ranges(3, 0.9, [0.5, 0.3, 0.2])
        counts = [0, 0, 0, 0]
        n = 100000
        for i in range(n):
            counts[choose_variant(hash_unit("checkout-test", "user-%d" % i), ranges)] += 1
        for index, weight in enumerate((0.5, 0.3, 0.2)):
            p = 0.9 * weight
            self.assertLess(abs(counts[index] / n - p), 4 * (p * (1 - p) / n) ** 0.5, counts)
        self.assertLess(abs(counts[-1] / n - 0.1), 4 * (0.09 / n) ** 0.5, counts)


class AssignTests(unittest.TestCase):
    def setUp(self):
        self.platform = FakePlatform()
        self.platform.definitions = {"experiments": [CHECKOUT]}
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            c.close(timeout=1)
        self.platform.close()

    def client(self, endpoint=None, clock=None):
        c = Client(endpoint or self.platform.url, "ep_test", flush_interval=60, register_atexit=False, timeout=2)
        if clock is not None:
            c._definitions = ExperimentDefinitions(c, clock=clock)
        self.clients.append(c)
        return c

    def definition_requests(self):
        return [r for r in self.platform.requests if r.path == "/api/v1/experiments/definitions"]

    def test_assign_evaluates_locally_from_one_fetch(self):
        c = self.client()
        self.assertEqual({"experiment": "checkout-test", "variant": "b", "config": {"model": "gpt-4o"}, "in_experiment": True},
                         c.assign("checkout-test", "user-1"))
        self.assertEqual({"experiment": "checkout-test", "variant": None, "config": None, "in_experiment": False},
                         c.assign("checkout-test", "user-2"))
        self.assertEqual("c", c.assign("checkout-test", "user-4")["variant"])
        self.assertEqual("b", c.assign("checkout-test", "us\u00e9r-\u00e9")["variant"])
        self.assertEqual(1, len(self.definition_requests()))
        self.assertEqual("Bearer ep_test", self.definition_requests()[0].headers["Authorization"])

    def test_unknown_or_not_running_experiments_and_empty_ids_are_out(self):
        paused = dict(CHECKOUT, key="paused", status="paused")
        self.platform.definitions = {"experiments": [CHECKOUT, paused]}
        c = self.client()
        self.assertFalse(c.assign("nope", "user-1")["in_experiment"])
        self.assertFalse(c.assign("paused", "user-1")["in_experiment"])
        self.assertFalse(c.assign("checkout-test", "")["in_experiment"])
        self.assertFalse(c.assign("checkout-test", None)["in_experiment"])

    def test_filters_are_checked_against_attributes_when_given(self):
        c = self.client()
        self.assertTrue(c.assign("checkout-test", "user-1", {"environment": "production"})["in_experiment"])
        self.assertFalse(c.assign("checkout-test", "user-1", {"environment": "staging"})["in_experiment"])
        self.assertFalse(c.assign("checkout-test", "user-1", {})["in_experiment"])

    def test_the_copy_is_revalidated_with_its_etag_after_max_age(self):
        clock = Clock()
        self.platform.max_age = 30
        c = self.client(clock=clock)
        c.assign("checkout-test", "user-1")
        clock.now += 29
        c.assign("checkout-test", "user-1")
        self.assertEqual(1, len(self.definition_requests()), "fresh for max-age")

        clock.now += 2
        self.assertEqual("b", c.assign("checkout-test", "user-1")["variant"])
        second = self.definition_requests()[1]
        self.assertEqual(self.definition_requests()[0].headers.get("If-None-Match"), None)
        self.assertTrue(second.headers.get("If-None-Match"), "revalidated with the ETag")

        # New weights: a new ETag, a full answer, and local evaluation follows them.
        self.platform.definitions = {"experiments": [dict(CHECKOUT, variants=[dict(v, weight=w) for v, w in zip(CHECKOUT["variants"], (1.0, 0.0, 0.0))])]}
        clock.now += 31
        self.assertEqual("control", c.assign("checkout-test", "user-1")["variant"])
        self.assertEqual(3, len(self.definition_requests()))

    def test_an_unreachable_platform_gives_out_of_experiment_and_one_warning(self):
        clock = Clock()
        c = self.client(endpoint="http://127.0.0.1:%d" % free_port(), clock=clock)
        with self.assertLogs("evalplatform", level="WARNING") as logs:
            for _ in range(3):
                self.assertEqual({"experiment": "checkout-test", "variant": None, "config": None, "in_experiment": False},
                                 c.assign("checkout-test", "user-1"))
            clock.now += 31
            c.assign("checkout-test", "user-1")
        self.assertEqual(1, len(logs.records), [r.getMessage() for r in logs.records])
        self.assertIn("experiment definitions", logs.records[0].getMessage())

    def test_a_refusing_platform_keeps_the_last_copy(self):
        clock = Clock()
        c = self.client(clock=clock)
        self.assertEqual("b", c.assign("checkout-test", "user-1")["variant"])
        self.platform.answer(503, {"Retry-After": "5"}, {"status": 503, "title": "Unavailable"})
        clock.now += 31
        with self.assertLogs("evalplatform", level="WARNING") as logs:
            self.assertEqual("b", c.assign("checkout-test", "user-1")["variant"])
            self.assertEqual("b", c.assign("checkout-test", "user-1")["variant"])
        self.assertEqual(1, len(logs.records))
        self.assertIn("503", logs.records[0].getMessage())
        self.assertEqual(2, len(self.definition_requests()), "no retry before the retry interval")

    def test_a_401_without_a_copy_is_out_and_logged_once(self):
        self.platform.answer(401, {}, {"status": 401, "title": "Unauthorized"})
        c = self.client(clock=Clock())
        with self.assertLogs("evalplatform", level="WARNING") as logs:
            self.assertFalse(c.assign("checkout-test", "user-1")["in_experiment"])
            self.assertFalse(c.assign("checkout-test", "user-3")["in_experiment"])
        self.assertEqual(1, len(logs.records))

    def test_a_client_without_endpoint_is_out(self):
        logging.getLogger("evalplatform").setLevel(logging.ERROR)
        try:
            c = Client("", "", register_atexit=False)
        finally:
            logging.getLogger("evalplatform").setLevel(logging.NOTSET)
        self.assertFalse(c.assign("checkout-test", "user-1")["in_experiment"])

    def test_traces_carry_the_assignment(self):
        c = self.client()
        with c.trace("checkout") as t:
            t.use_assignment(c.assign("checkout-test", "user-1"))
            t.response = "ok"
        with c.trace("outside") as t2:
            t2.use_assignment(c.assign("checkout-test", "user-2"))
        c.flush(5)
        sent = [tr for b in self.platform.batches() for tr in b.traces]
        self.assertEqual(("checkout-test", "b"), (sent[0]["experiment"], sent[0]["variant"]))
        self.assertNotIn("experiment", sent[1])
        self.assertNotIn("variant", sent[1])
        self.assertEqual("b", Trace().use_assignment({"experiment": "e", "variant": "b", "in_experiment": True}).variant)


if __name__ == "__main__":
    unittest.main()
