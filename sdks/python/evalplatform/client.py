"""The client: a bounded buffer of traces sent in batches by one daemon thread."""

import atexit
import collections
import http.client
import json
import logging
import os
import random
import re
import threading
import time
import weakref
from typing import Any, Deque, Dict, List, Optional, Set, Union

from . import _http

logger = logging.getLogger("evalplatform")

ENDPOINT_ENV = "EVALPLATFORM_ENDPOINT"
API_KEY_ENV = "EVALPLATFORM_API_KEY"

# The server's batch limits (docs/api.md): 1,000 traces and 10 MB per request.
MAX_BATCH_TRACES = 1000
MAX_BATCH_BYTES = 10 * 1024 * 1024

_ITEM_PATH = re.compile(r"^traces\[(\d+)\]")


class _Item(object):
    """A queued trace: its JSON, serialised once at enqueue so every retry sends the same
    content (the server answers a retry of identical content 200, different content 409)."""

    __slots__ = ("json", "size", "handle")

    def __init__(self, payload_json, handle):
        # type: (str, Any) -> None
        self.json = payload_json
        self.size = len(payload_json.encode("utf-8"))
        self.handle = handle


def json_default(value):
    # type: (Any) -> Any
    """Lets any object reach the platform: sets become lists, everything else its repr."""
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return repr(value)


class Client(object):
    """Sends traces to EvalPlatform in the background.

    Traces are buffered (at most ``max_queue_size``; when full the OLDEST is dropped and
    counted) and sent to ``POST /api/v1/traces/batch`` by a daemon thread when
    ``batch_size`` are waiting or the oldest has waited ``flush_interval`` seconds. Network
    errors, 408, 429 and 5xx are retried with exponential backoff and jitter, honouring
    ``Retry-After``. The platform stores every valid trace of a batch and lists each one's fate:
    a trace it skipped (invalid) or refused as a conflict is counted, logged with its reasons and
    never resent, and the stored ones are never resent either; a :class:`Trace` gets the platform's
    answer for it in ``outcome`` (``status``, ``errors``, ``adjustments``). An older platform's
    all-or-none 400 or 409 drops only the traces it names and resends the rest.
    Nothing here raises into the caller because telemetry failed: problems are logged on the
    ``evalplatform`` logger and counted in :attr:`stats`.
    """

    def __init__(
        self,
        endpoint=None,  # type: Optional[str]
        api_key=None,  # type: Optional[str]
        batch_size=100,  # type: int
        flush_interval=1.0,  # type: float
        max_queue_size=10000,  # type: int
        max_retries=5,  # type: int
        backoff_base=0.5,  # type: float
        backoff_max=30.0,  # type: float
        max_retry_after=60.0,  # type: float
        timeout=10.0,  # type: float
        max_batch_bytes=MAX_BATCH_BYTES - 512 * 1024,  # type: int
        shutdown_timeout=5.0,  # type: float
        register_atexit=True,  # type: bool
    ):
        # type: (...) -> None
        self.endpoint = (endpoint or os.environ.get(ENDPOINT_ENV) or "").rstrip("/")
        self.api_key = api_key or os.environ.get(API_KEY_ENV) or ""
        self.batch_size = max(1, min(int(batch_size), MAX_BATCH_TRACES))
        self.flush_interval = float(flush_interval)
        self.max_queue_size = max(1, int(max_queue_size))
        self.max_retries = max(0, int(max_retries))
        self.backoff_base = float(backoff_base)
        self.backoff_max = float(backoff_max)
        self.max_retry_after = float(max_retry_after)
        self.timeout = float(timeout)
        self.max_batch_bytes = min(int(max_batch_bytes), MAX_BATCH_BYTES)
        self.shutdown_timeout = float(shutdown_timeout)
        self.enabled = bool(self.endpoint and self.api_key)
        if not self.enabled:
            logger.warning(
                "evalplatform: no endpoint or API key (pass them or set %s and %s); traces will be dropped",
                ENDPOINT_ENV, API_KEY_ENV)

        self._queue = collections.deque()  # type: Deque[_Item]
        self._cond = threading.Condition()
        self._oldest_at = 0.0
        self._in_flight = 0
        self._flush_requests = 0
        self._closing = False
        self._closed = False
        self._abort = threading.Event()  # set when close() gives up waiting: stop retrying
        self._counts = {"sent": 0, "adjusted": 0, "dropped_overflow": 0, "dropped_invalid": 0, "dropped_conflict": 0, "failed": 0}
        self._thread = None  # type: Optional[threading.Thread]
        self._definitions = None  # type: Any
        if self.enabled:
            self._thread = threading.Thread(target=self._run, name="evalplatform-batcher", daemon=True)
            self._thread.start()
            if register_atexit:
                # A weak reference, so registering does not keep a discarded client alive.
                ref = weakref.ref(self)
                atexit.register(lambda: ref() is not None and ref().close())

    # ------------------------------------------------------------------ public API

    @property
    def stats(self):
        # type: () -> Dict[str, int]
        """Counters: ``sent`` (committed by the platform), ``adjusted`` (of those, stored with a
        value changed, e.g. an end a moment before its start), ``dropped`` (the sum of
        ``dropped_overflow`` (buffer full, oldest first), ``dropped_invalid`` (skipped by the platform
        as invalid) and ``dropped_conflict`` (that external_id is stored with other content)),
        ``failed`` (retries exhausted or a non-retryable answer such as 401/403), ``pending``
        (buffered or being sent)."""
        with self._cond:
            s = dict(self._counts)
            s["pending"] = len(self._queue) + self._in_flight
        s["dropped"] = s["dropped_overflow"] + s["dropped_invalid"] + s["dropped_conflict"]
        return s

    def trace(self, name_or_func=None, **options):
        # type: (Any, Any) -> Any
        """``@client.trace``, ``@client.trace("name")`` or ``with client.trace("name") as t:``."""
        from .tracing import trace
        options["client"] = self
        return trace(name_or_func, **options)

    def send(self, trace):
        # type: (Union[Dict[str, Any], Any]) -> None
        """Queues one trace: a dict in the API's trace shape, or a :class:`Trace`."""
        try:
            from .tracing import Trace
            if isinstance(trace, Trace):
                payload, handle = trace.to_dict(), trace
            else:
                payload, handle = dict(trace), None
            self._enqueue(payload, handle)
        except Exception as e:  # telemetry never breaks the host app
            logger.warning("evalplatform: could not queue a trace: %r", e)

    def flush(self, timeout=None):
        # type: (Optional[float]) -> bool
        """Sends everything buffered now and waits (at most ``timeout`` seconds, default
        ``shutdown_timeout``) until nothing is pending. True when nothing is left pending."""
        if self._thread is None:
            return True
        deadline = time.monotonic() + (self.shutdown_timeout if timeout is None else timeout)
        with self._cond:
            self._flush_requests += 1
            self._cond.notify_all()
            try:
                while (self._queue or self._in_flight) and self._thread.is_alive():
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._cond.wait(remaining)
                return not self._queue and not self._in_flight
            finally:
                self._flush_requests -= 1

    def close(self, timeout=None):
        # type: (Optional[float]) -> bool
        """Flushes (at most ``timeout`` seconds, default ``shutdown_timeout``) and stops the
        background thread; True when it finished in time with nothing left pending (what was left
        is counted as failed). Traces sent after close are dropped. Runs at interpreter exit."""
        if self._thread is None:
            self._closed = True
            return True
        timeout = self.shutdown_timeout if timeout is None else timeout
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join(timeout)
        timed_out = self._thread.is_alive()
        if timed_out:
            self._abort.set()  # stop waiting between retries; what is left counts as failed
            self._thread.join(1.0)
        with self._cond:
            self._closed = True
            left = len(self._queue)
            if left:
                self._counts["failed"] += left
                self._queue.clear()
                logger.warning("evalplatform: %d trace(s) not sent before close", left)
            return not timed_out and left == 0

    def score(self, trace, name, value, data_type=None, comment=None, span_id=None, timeout=None):
        # type: (Any, str, Union[float, int, str, bool], Optional[str], Optional[str], Optional[str], Optional[float]) -> Optional[List[Dict[str, Any]]]
        """Attaches a score to a trace (``POST /api/v1/traces/{id}/scores``); ``trace`` is the
        platform's trace id or a :class:`Trace` (flushed first if its id is not known yet).
        Returns the stored scores, or None (logged) when it could not be stored."""
        try:
            trace_id = self._trace_id(trace, timeout)
            if trace_id is None:
                return None
            body = {"name": name, "value": value}  # type: Dict[str, Any]
            for key, v in (("data_type", data_type), ("comment", comment), ("span_id", span_id)):
                if v is not None:
                    body[key] = v
            resp = self._call("POST", "/api/v1/traces/%s/scores" % trace_id, json.dumps(body).encode("utf-8"))
            if resp is not None and resp.status == 201:
                return resp.json()
            if resp is not None:
                logger.warning("evalplatform: score '%s' on trace %s not stored: %s", name, trace_id, resp.describe())
        except Exception as e:
            logger.warning("evalplatform: score '%s' not stored: %r", name, e)
        return None

    def get_trace(self, trace, timeout=None):
        # type: (Any, Optional[float]) -> Optional[Dict[str, Any]]
        """The stored trace (``GET /api/v1/traces/{id}``, scope ``read``), or None (logged)."""
        try:
            trace_id = self._trace_id(trace, timeout)
            if trace_id is None:
                return None
            resp = self._call("GET", "/api/v1/traces/%s" % trace_id, None)
            if resp is not None and resp.status == 200:
                return resp.json()
            if resp is not None:
                logger.warning("evalplatform: could not read trace %s: %s", trace_id, resp.describe())
        except Exception as e:
            logger.warning("evalplatform: could not read a trace: %r", e)
        return None

    def assign(self, experiment, unit_id, attributes=None):
        # type: (str, Any, Optional[Dict[str, Any]]) -> Dict[str, Any]
        """The unit's variant by local evaluation (GrowthBook v2 hashing) from the cached
        definitions (``GET /api/v1/experiments/definitions``): ``{"experiment", "variant",
        "config", "in_experiment"}``. Follows the current weights; the server's ``POST
        /api/v1/experiments/{key}/assign`` is the sticky one. Never raises: without definitions
        (platform unreachable, no key) the unit is not in the experiment (logged once)."""
        from .experiments import ExperimentDefinitions, evaluate, not_in_experiment
        try:
            if not self.enabled:
                return not_in_experiment(experiment)
            with self._cond:
                if self._definitions is None:
                    self._definitions = ExperimentDefinitions(self)
                definitions = self._definitions
            definition = definitions.get().get(experiment)
            return evaluate(definition, unit_id, attributes) if definition is not None else not_in_experiment(experiment)
        except Exception as e:  # assignment never breaks the host app
            logger.warning("evalplatform: could not assign %r in '%s': %r", unit_id, experiment, e)
            return not_in_experiment(experiment)

    def get_review(self, trace, timeout=None):
        # type: (Any, Optional[float]) -> Optional[Dict[str, Any]]
        """The trace's review (status, reason, score, note, history), or None (logged)."""
        stored = self.get_trace(trace, timeout)
        return stored.get("review") if isinstance(stored, dict) else None

    # ------------------------------------------------------------------ queue

    def _enqueue(self, payload, handle):
        # type: (Dict[str, Any], Any) -> None
        if not self.enabled:
            return
        item = _Item(json.dumps(payload, default=json_default, ensure_ascii=False, allow_nan=False), handle)
        with self._cond:
            if self._closed or self._closing and not self._thread_alive():
                self._counts["failed"] += 1
                logger.warning("evalplatform: trace sent after close() was dropped")
                return
            if len(self._queue) >= self.max_queue_size:
                self._queue.popleft()
                self._counts["dropped_overflow"] += 1
                if self._counts["dropped_overflow"] == 1 or self._counts["dropped_overflow"] % 1000 == 0:
                    logger.warning("evalplatform: buffer full (%d); dropped the oldest trace (%d so far)",
                                   self.max_queue_size, self._counts["dropped_overflow"])
            was_empty = not self._queue
            if was_empty:
                self._oldest_at = time.monotonic()
            self._queue.append(item)
            # The worker sleeps without a deadline while the buffer is empty: wake it to start the
            # interval clock on the first trace, and to send at once when a batch is full.
            if was_empty or len(self._queue) >= self.batch_size:
                self._cond.notify_all()

    def _thread_alive(self):
        # type: () -> bool
        return self._thread is not None and self._thread.is_alive()

    def _run(self):
        # type: () -> None
        while True:
            with self._cond:
                while True:
                    if not self._queue:
                        if self._closing:
                            self._cond.notify_all()
                            return
                        self._cond.wait()
                        continue
                    if len(self._queue) >= self.batch_size or self._flush_requests or self._closing:
                        break
                    remaining = self._oldest_at + self.flush_interval - time.monotonic()
                    if remaining <= 0:
                        break
                    self._cond.wait(remaining)
                batch = self._take_locked()
                self._in_flight = len(batch)
            try:
                if batch:
                    self._send(batch)
            except Exception as e:  # a bug here must not kill the thread and silently stop telemetry
                with self._cond:
                    self._counts["failed"] += len(batch)
                logger.warning("evalplatform: could not send %d trace(s): %r", len(batch), e)
            finally:
                with self._cond:
                    self._in_flight = 0
                    if self._queue:
                        self._oldest_at = time.monotonic()
                    self._cond.notify_all()

    def _take_locked(self):
        # type: () -> List[_Item]
        batch = []  # type: List[_Item]
        size = 0
        while self._queue and len(batch) < self.batch_size:
            item = self._queue[0]
            if item.size + 16 > self.max_batch_bytes:
                self._queue.popleft()
                self._counts["dropped_invalid"] += 1
                logger.warning("evalplatform: dropped a trace of %d bytes (over the batch limit)", item.size)
                continue
            if batch and size + item.size + 16 > self.max_batch_bytes:
                break
            batch.append(self._queue.popleft())
            size += item.size + 1
        return batch

    # ------------------------------------------------------------------ sending

    def _send(self, items):
        # type: (List[_Item]) -> None
        attempt = 0
        while items:
            body = ('{"traces":[' + ",".join(i.json for i in items) + "]}").encode("utf-8")
            resp = None  # type: Optional[_http.Response]
            problem = ""
            try:
                resp = _http.request("POST", self.endpoint + "/api/v1/traces/batch", self.api_key, body, self.timeout)
            except (OSError, http.client.HTTPException) as e:
                problem = repr(e)

            if resp is not None and 200 <= resp.status < 300:
                self._accepted(items, resp)
                return
            if resp is not None and resp.status in (400, 409):
                items = self._drop_named(items, resp)
                continue
            if resp is not None and resp.status == 413 and len(items) > 1:
                half = len(items) // 2
                self._send(items[:half])
                self._send(items[half:])
                return
            if resp is not None and not _retryable(resp.status):
                self._give_up(items, resp.describe())
                return

            attempt += 1
            if attempt > self.max_retries:
                self._give_up(items, "%s after %d attempts" % (resp.describe() if resp is not None else problem, attempt))
                return
            delay = self._delay(attempt, resp)
            logger.debug("evalplatform: batch of %d: %s; retry %d in %.2fs", len(items),
                         resp.describe() if resp is not None else problem, attempt, delay)
            if self._abort.wait(delay):
                self._give_up(items, "closing")
                return

    def _delay(self, attempt, resp):
        # type: (int, Optional[_http.Response]) -> float
        if resp is not None:
            retry_after = _http.parse_retry_after(resp.headers.get("retry-after"))
            if retry_after is not None:
                return min(retry_after, self.max_retry_after)
        # Exponential backoff with "equal jitter": half fixed, half random, so clients that failed
        # together do not retry together, yet each waits at least half the step.
        step = min(self.backoff_max, self.backoff_base * (2 ** (attempt - 1)))
        return step / 2 + random.uniform(0, step / 2)

    def _accepted(self, items, resp):
        # type: (List[_Item], _http.Response) -> None
        """A 2xx: every trace the answer does not list as ``skipped`` or ``conflict`` is committed
        (an older platform lists no status at all). The ones not stored are counted and logged with
        their reasons; none is resent, stored or not: a resend would be refused the same way."""
        data = resp.json()
        listed = data.get("items") if isinstance(data, dict) else None
        outcome = self._settle(items, listed if isinstance(listed, list) else [])
        with self._cond:
            self._counts["sent"] += outcome["stored"]
            self._counts["adjusted"] += outcome["adjusted"]
            self._counts["dropped_invalid"] += len(outcome["skipped"])
            self._counts["dropped_conflict"] += len(outcome["conflict"])
        not_stored = outcome["skipped"] + outcome["conflict"]
        if not_stored:
            logger.warning("evalplatform: the platform stored %d of %d trace(s) and skipped %d: %s", outcome["stored"],
                           len(items), len(not_stored), _summarise_items(not_stored))
        if outcome["adjusted"]:
            logger.info("evalplatform: %d trace(s) stored with a value adjusted: %s", outcome["adjusted"],
                        _summarise_items(outcome["adjusted_items"], "adjustments"))

    def _settle(self, items, listed):
        # type: (List[_Item], List[Any]) -> Dict[str, Any]
        """Hands each listed fate to its :class:`Trace` and sorts the items by it."""
        outcome = {"stored": 0, "adjusted": 0, "skipped": [], "conflict": [], "adjusted_items": []}  # type: Dict[str, Any]
        by_index = {}  # type: Dict[int, Dict[str, Any]]
        for entry in listed:
            try:
                by_index[int(entry["index"])] = entry
            except (KeyError, TypeError, ValueError):
                pass
        for i, item in enumerate(items):
            entry = by_index.get(i) or {}
            status = entry.get("status")
            if item.handle is not None and entry:
                item.handle.outcome = entry
                if status not in ("skipped", "conflict"):
                    item.handle.id = entry.get("id")
            if status == "skipped":
                outcome["skipped"].append(entry)
            elif status == "conflict":
                outcome["conflict"].append(entry)
            else:
                outcome["stored"] += 1
                if entry.get("adjustments"):
                    outcome["adjusted"] += 1
                    outcome["adjusted_items"].append(entry)
        return outcome

    def _drop_named(self, items, resp):
        # type: (List[_Item], _http.Response) -> List[_Item]
        """400/409: nothing was stored. The platform lists each trace's fate in ``items``: drop
        them all. An older, all-or-none platform names the bad traces in ``errors`` only: drop those
        and return the rest to resend. Errors naming no trace drop the whole batch."""
        data = resp.json()
        listed = data.get("items") if isinstance(data, dict) else None
        errors = data.get("errors") if isinstance(data, dict) else None
        if isinstance(listed, list) and listed:
            outcome = self._settle(items, listed)
            not_stored = outcome["skipped"] + outcome["conflict"]
            with self._cond:
                self._counts["dropped_invalid"] += len(outcome["skipped"]) + outcome["stored"]
                self._counts["dropped_conflict"] += len(outcome["conflict"])
            logger.warning("evalplatform: the platform refused all %d trace(s) (%s): %s", len(items), resp.describe(),
                           _summarise_items(not_stored) if not_stored else _summarise(errors))
            return []
        kind = "dropped_conflict" if resp.status == 409 else "dropped_invalid"
        bad = set()  # type: Set[int]
        if isinstance(errors, dict):
            for key in errors:
                m = _ITEM_PATH.match(key)
                if m and int(m.group(1)) < len(items):
                    bad.add(int(m.group(1)))
                elif len(items) == 1:
                    bad.add(0)  # a one-trace batch may be answered with the trace's own field names
        if not bad:
            bad = set(range(len(items)))
        with self._cond:
            self._counts[kind] += len(bad)
        logger.warning("evalplatform: the platform refused %d of %d trace(s) (%s); %s", len(bad), len(items),
                       resp.describe(), _summarise(errors))
        return [item for i, item in enumerate(items) if i not in bad]

    def _give_up(self, items, why):
        # type: (List[_Item], str) -> None
        with self._cond:
            self._counts["failed"] += len(items)
        logger.warning("evalplatform: gave up on %d trace(s): %s", len(items), why)

    # ------------------------------------------------------------------ direct calls

    def _trace_id(self, trace, timeout):
        # type: (Any, Optional[float]) -> Optional[str]
        if not self.enabled:
            return None
        if isinstance(trace, str):
            return trace
        trace_id = getattr(trace, "id", None)
        if trace_id is None and getattr(trace, "external_id", None) is not None:
            self.flush(timeout)  # the id is known once the batch holding the trace is committed
            trace_id = getattr(trace, "id", None)
        if trace_id is None:
            logger.warning("evalplatform: the trace has no platform id yet (not sent, or refused)")
        return trace_id

    def _call(self, method, path, body):
        # type: (str, str, Optional[bytes]) -> Optional[_http.Response]
        """One call outside the batcher. Only retried when the request certainly was not
        processed (429, 503, connection refused): a score has no idempotency key."""
        attempt = 0
        while True:
            resp = None
            try:
                resp = _http.request(method, self.endpoint + path, self.api_key, body, self.timeout)
                if resp.status not in (429, 503):
                    return resp
                problem = resp.describe()
            except ConnectionRefusedError as e:
                problem = repr(e)
            except (OSError, http.client.HTTPException) as e:
                if isinstance(getattr(e, "reason", None), ConnectionRefusedError):
                    problem = repr(e)
                else:
                    logger.warning("evalplatform: %s %s failed: %r", method, path, e)
                    return None
            attempt += 1
            if attempt > self.max_retries:
                logger.warning("evalplatform: %s %s failed: %s", method, path, problem)
                return None
            time.sleep(self._delay(attempt, resp))


def _retryable(status):
    # type: (int) -> bool
    return status in (408, 429) or status >= 500


def _summarise_items(entries, key="errors"):
    # type: (List[Dict[str, Any]], str) -> str
    parts = []
    for entry in entries[:5]:
        problems = entry.get(key) if isinstance(entry.get(key), list) else []
        text = "; ".join("%s: %s" % (p.get("field"), p.get("message")) for p in problems if isinstance(p, dict))
        parts.append("%s %s (%s)" % (entry.get("status", "?"), entry.get("external_id") or "#%s" % entry.get("index"), text or "no reason given"))
    return ", ".join(parts) + (" (and %d more)" % (len(entries) - 5) if len(entries) > 5 else "")


def _summarise(errors):
    # type: (Any) -> str
    if not isinstance(errors, dict):
        return "no field errors"
    parts = ["%s: %s" % (k, "; ".join(v) if isinstance(v, list) else v) for k, v in list(errors.items())[:5]]
    return ", ".join(parts) + (" (and %d more)" % (len(errors) - 5) if len(errors) > 5 else "")
