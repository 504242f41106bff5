"""Traces from code: the Trace object, the @trace decorator and the ``with trace(...)`` block."""

import contextvars
import datetime
import functools
import inspect
import json
import logging
import threading
import time
import uuid
from typing import Any, Callable, Dict, List, Optional

from .client import Client, json_default

logger = logging.getLogger("evalplatform")

# The trace fields the platform accepts in the simple shape (EvalPlatform.Core/Ingestion/TraceParser.cs);
# anything else is refused with a 400 there, so it is refused (with a warning) here.
TRACE_FIELDS = frozenset([
    "external_id", "name", "session_id", "user_id", "environment", "release", "tags", "model", "provider",
    "usage", "cost", "latency_ms", "time_to_first_token_ms", "error", "experiment", "variant", "metadata",
    "start_time", "end_time", "system_prompt", "user_input", "response", "function_calls", "messages", "spans",
])

SIMPLE_FIELDS = frozenset(["system_prompt", "user_input", "response", "function_calls"])

MAX_TEXT = 1000000  # prompts and responses
MAX_ERROR = 10000

_current = contextvars.ContextVar("evalplatform_current_trace", default=None)  # type: contextvars.ContextVar[Optional[Trace]]

_default_client = None  # type: Optional[Client]
_default_lock = threading.Lock()


def configure(**options):
    # type: (Any) -> Client
    """Creates the default client used by :func:`trace` (closing the previous one)."""
    global _default_client
    with _default_lock:
        old, _default_client = _default_client, Client(**options)
    if old is not None:
        old.close()
    return _default_client


def get_client():
    # type: () -> Client
    """The default client; created from EVALPLATFORM_ENDPOINT / EVALPLATFORM_API_KEY on first use."""
    global _default_client
    with _default_lock:
        if _default_client is None:
            _default_client = Client()
        return _default_client


def assign(experiment, unit_id, attributes=None):
    # type: (str, Any, Optional[Dict[str, Any]]) -> Dict[str, Any]
    """:meth:`Client.assign` on the default client."""
    return get_client().assign(experiment, unit_id, attributes)


def current_trace():
    # type: () -> Optional[Trace]
    """The trace of the enclosing ``@trace`` function or ``with trace()`` block, or None."""
    return _current.get()


def _now_iso():
    # type: () -> str
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _text(value, limit=MAX_TEXT):
    # type: (Any, int) -> str
    """A value as the platform's text: strings as they are, anything else as JSON (or its repr)."""
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, default=json_default, ensure_ascii=False)
        except (TypeError, ValueError):
            text = repr(value)
    return text if len(text) <= limit else text[:limit]


def _describe_error(error):
    # type: (BaseException) -> str
    text = "%s: %s" % (type(error).__name__, error) if str(error) else type(error).__name__
    return text[:MAX_ERROR]


class Trace(object):
    """One trace being recorded. Set fields as attributes (``t.model = "gpt-4o"``) or with
    :meth:`update`; :meth:`end` (called for you by the decorator and the ``with`` block) queues
    it once. ``external_id`` is generated (uuid4) so that a retried send is never stored twice;
    ``id`` is the platform's id once the batch holding the trace is committed, and ``outcome`` the
    platform's answer for it (``status`` ``created``, ``existing``, ``skipped`` or ``conflict``, with
    ``errors`` when not stored and ``adjustments`` when stored with a value changed)."""

    def __init__(self, client=None, name=None, **fields):
        # type: (Optional[Client], Optional[str], Any) -> None
        self.client = client
        self.id = None  # type: Optional[str]
        self.outcome = None  # type: Optional[Dict[str, Any]]
        self.external_id = str(uuid.uuid4())
        self.name = name
        self.system_prompt = None  # type: Optional[str]
        self.user_input = None  # type: Optional[str]
        self.response = None  # type: Optional[str]
        self.model = None  # type: Optional[str]
        self.provider = None  # type: Optional[str]
        self.usage = None  # type: Optional[Dict[str, int]]
        self.cost = None  # type: Optional[float]
        self.latency_ms = None  # type: Optional[float]
        self.time_to_first_token_ms = None  # type: Optional[float]
        self.start_time = _now_iso()
        self.end_time = None  # type: Optional[str]
        self.session_id = None  # type: Optional[str]
        self.user_id = None  # type: Optional[str]
        self.environment = None  # type: Optional[str]
        self.release = None  # type: Optional[str]
        self.tags = []  # type: List[str]
        self.error = None  # type: Optional[str]
        self.experiment = None  # type: Optional[str]
        self.variant = None  # type: Optional[str]
        self.metadata = {}  # type: Dict[str, Any]
        self.function_calls = []  # type: List[Dict[str, Any]]
        self.messages = None  # type: Optional[List[Dict[str, Any]]]
        self.spans = None  # type: Optional[List[Dict[str, Any]]]
        self._started = time.perf_counter()
        self._ended = False
        self.update(**fields)

    def update(self, **fields):
        # type: (Any) -> Trace
        """Sets trace fields by their API names; an unknown name is logged and ignored."""
        for key, value in fields.items():
            if key in TRACE_FIELDS:
                setattr(self, key, value)
            else:
                logger.warning("evalplatform: '%s' is not a trace field (put custom data in metadata); ignored", key)
        return self

    def use_assignment(self, assignment):
        # type: (Optional[Dict[str, Any]]) -> Trace
        """Carries an assignment's ``experiment`` and ``variant`` (from :meth:`Client.assign` or the
        server's assign endpoint); a unit not in the experiment leaves the trace out of it."""
        if assignment and assignment.get("in_experiment") and assignment.get("variant") is not None:
            self.experiment = assignment.get("experiment")
            self.variant = assignment.get("variant")
        return self

    def set_usage(self, prompt_tokens=None, completion_tokens=None, total_tokens=None):
        # type: (Optional[int], Optional[int], Optional[int]) -> Trace
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": total_tokens}
        self.usage = dict((k, v) for k, v in usage.items() if v is not None)
        return self

    def add_function_call(self, name, parameters=None, result=None, execution_time_ms=None, error=None):
        # type: (str, Any, Any, Optional[float], Optional[str]) -> Trace
        """Records a tool call the traced code made."""
        call = {"name": name}  # type: Dict[str, Any]
        for key, value in (("parameters", parameters), ("result", result), ("execution_time_ms", execution_time_ms), ("error", error)):
            if value is not None:
                call[key] = value
        self.function_calls.append(call)
        return self

    def to_dict(self):
        # type: () -> Dict[str, Any]
        """The trace in the API's shape (fields left empty are omitted)."""
        out = {}  # type: Dict[str, Any]
        full = self.messages is not None or self.spans is not None
        for key in sorted(TRACE_FIELDS):
            if full and key in SIMPLE_FIELDS:
                continue  # the platform takes one shape or the other; the full shape wins
            value = getattr(self, key, None)
            if value is None or (isinstance(value, (list, dict)) and not value):
                continue
            out[key] = value
        return out

    def end(self, response=None, error=None):
        # type: (Any, Optional[BaseException]) -> None
        """Finishes the trace (end time, latency; ``response`` and ``error`` unless already set)
        and queues it. Only the first call counts."""
        if self._ended:
            return
        self._ended = True
        try:
            if self.latency_ms is None:
                self.latency_ms = round((time.perf_counter() - self._started) * 1000.0, 3)
            if self.end_time is None:
                self.end_time = _now_iso()
            if response is not None and self.response is None and self.messages is None:
                self.response = _text(response)
            if error is not None and self.error is None:
                self.error = _describe_error(error)
            (self.client or get_client()).send(self)
        except Exception as e:  # telemetry never breaks the host app
            logger.warning("evalplatform: could not finish trace '%s': %r", self.name, e)


class _TraceScope(object):
    """What :func:`trace` returns: a decorator and a (sync or async) context manager."""

    def __init__(self, name, client, capture_input, capture_output, fields):
        # type: (Optional[str], Optional[Client], bool, bool, Dict[str, Any]) -> None
        self.name = name
        self.client = client
        self.capture_input = capture_input
        self.capture_output = capture_output
        self.fields = fields
        self._tokens = threading.local()

    # -- context manager

    def _open(self):
        # type: () -> Trace
        t = Trace(self.client, self.name, **self.fields)
        stack = getattr(self._tokens, "stack", None)
        if stack is None:
            stack = self._tokens.stack = []
        stack.append((t, _current.set(t)))
        return t

    def _close(self, error):
        # type: (Optional[BaseException]) -> None
        try:
            t, token = self._tokens.stack.pop()
            _current.reset(token)
        except Exception as e:
            logger.warning("evalplatform: trace block closed out of order: %r", e)
            return
        t.end(error=error)

    def __enter__(self):
        # type: () -> Trace
        return self._open()

    def __exit__(self, exc_type, exc, tb):
        # type: (Any, Optional[BaseException], Any) -> bool
        self._close(exc)
        return False  # the exception, if any, goes on unchanged

    async def __aenter__(self):
        # type: () -> Trace
        return self._open()

    async def __aexit__(self, exc_type, exc, tb):
        # type: (Any, Optional[BaseException], Any) -> bool
        self._close(exc)
        return False

    # -- decorator

    def __call__(self, func):
        # type: (Callable[..., Any]) -> Callable[..., Any]
        name = self.name or getattr(func, "__qualname__", None) or getattr(func, "__name__", "function")
        try:
            signature = inspect.signature(func)  # type: Optional[inspect.Signature]
        except (TypeError, ValueError):
            signature = None

        def start(args, kwargs):
            # type: (Any, Any) -> Any
            try:
                t = Trace(self.client, name, **self.fields)
                if self.capture_input:
                    t.user_input = _inputs(signature, args, kwargs)
                return t, _current.set(t)
            except Exception as e:
                logger.warning("evalplatform: could not start trace '%s': %r", name, e)
                return None, None

        def finish(state, result, error):
            # type: (Any, Any, Optional[BaseException]) -> None
            t, token = state
            if t is None:
                return
            try:
                _current.reset(token)
            except Exception:  # reset from another context: nothing to restore
                pass
            t.end(response=result if self.capture_output else None, error=error)

        if inspect.iscoroutinefunction(func):
            @functools.wraps(func)
            async def async_wrapper(*args, **kwargs):
                # type: (Any, Any) -> Any
                state = start(args, kwargs)
                try:
                    result = await func(*args, **kwargs)
                except BaseException as e:
                    finish(state, None, e)
                    raise
                finish(state, result, None)
                return result
            return async_wrapper

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            # type: (Any, Any) -> Any
            state = start(args, kwargs)
            try:
                result = func(*args, **kwargs)
            except BaseException as e:
                finish(state, None, e)
                raise
            finish(state, result, None)
            return result
        return wrapper


def _inputs(signature, args, kwargs):
    # type: (Optional[inspect.Signature], Any, Any) -> str
    """The call's arguments as the trace's user_input: a lone string argument as it is,
    otherwise the arguments by name as JSON (``self``/``cls`` left out)."""
    arguments = None  # type: Optional[Dict[str, Any]]
    if signature is not None:
        try:
            bound = signature.bind_partial(*args, **kwargs)
            arguments = dict(bound.arguments)
            first = next(iter(signature.parameters), None)
            if first in ("self", "cls"):
                arguments.pop(first, None)
        except TypeError:
            arguments = None
    if arguments is None:
        arguments = {"args": list(args), "kwargs": kwargs}
    if len(arguments) == 1:
        (only,) = arguments.values()
        if isinstance(only, str):
            return _text(only)
    return _text(arguments)


def trace(name_or_func=None, client=None, capture_input=True, capture_output=True, **fields):
    # type: (Any, Optional[Client], bool, bool, Any) -> Any
    """Records a trace around a function or a block.

    ``@trace`` / ``@trace("name", model="gpt-4o")`` on a sync or async function records its
    arguments (as ``user_input``), return value (as ``response``), latency, and any exception
    (as ``error``; the exception is re-raised unchanged). ``with trace("name") as t:`` (or
    ``async with``) gives the :class:`Trace` to fill in. Inside either, :func:`current_trace`
    returns it. Extra keyword arguments are trace fields (``model``, ``tags``, ``session_id``, ...).
    """
    name = fields.pop("name", None)
    if callable(name_or_func):
        return _TraceScope(name, client, capture_input, capture_output, fields)(name_or_func)
    return _TraceScope(name_or_func or name, client, capture_input, capture_output, fields)
