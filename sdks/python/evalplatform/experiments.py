"""Experiment assignment by local evaluation, compatible with GrowthBook's hashing (version 2).

The platform's ``GET /api/v1/experiments/definitions`` lists the running experiments; the client
keeps a copy (refreshed after the answer's ``max-age``, revalidated with its ETag) and assigns
units here, without a request per call. The platform's ``POST /api/v1/experiments/{key}/assign``
is the sticky one: it stores a unit's first variant. Local evaluation follows the current weights.
"""

import logging
import re
import struct
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from . import _http

logger = logging.getLogger("evalplatform")

DEFINITIONS_PATH = "/api/v1/experiments/definitions"
DEFAULT_MAX_AGE = 30.0
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*(\d+)", re.IGNORECASE)


def fnv1a32(text):
    # type: (str) -> int
    """FNV-1a 32-bit over the string's UTF-16 code units, as JavaScript's charCodeAt sees them
    (a character outside the Basic Multilingual Plane is two units), not over its code points or
    UTF-8 bytes: that is what makes the hash equal GrowthBook's for non-ASCII ids."""
    data = text.encode("utf-16-le", "surrogatepass")
    h = 0x811C9DC5
    for unit in struct.unpack("<%dH" % (len(data) // 2), data):
        h = ((h ^ unit) * 16777619) & 0xFFFFFFFF
    return h


def hash_unit(seed, value, version=2):
    # type: (str, str, int) -> Optional[float]
    """GrowthBook's hash in [0, 1): version 2 is fnv(str(fnv(seed + value))) % 10000 / 10000,
    version 1 (legacy) fnv(value + seed) % 1000 / 1000. None for an unknown version."""
    if version == 2:
        return (fnv1a32(str(fnv1a32(seed + value))) % 10000) / 10000.0
    if version == 1:
        return (fnv1a32(value + seed) % 1000) / 1000.0
    return None


def bucket_ranges(variants, coverage=1.0, weights=None):
    # type: (int, float, Optional[Sequence[float]]) -> List[Tuple[float, float]]
    """Each variant's [start, end) as GrowthBook computes it: coverage clamped to [0, 1]; weights
    that are missing, of the wrong length or not adding up to 0.99-1.01 become equal; walking the
    variants with a running sum c of the weights, variant i gets [c, c + coverage * w)."""
    coverage = min(1.0, max(0.0, coverage))
    equal = [1.0 / variants] * variants if variants > 0 else []
    if weights is None or len(weights) != variants:
        weights = equal
    total = sum(weights)
    if total < 0.99 or total > 1.01:
        weights = equal
    ranges = []
    cumulative = 0.0
    for w in weights:
        start = cumulative
        cumulative += w
        ranges.append((start, start + coverage * w))
    return ranges


def choose_variant(n, ranges):
    # type: (float, Sequence[Tuple[float, float]]) -> int
    """The index of the range holding n, or -1 (in a gap, or past the last): not in the experiment."""
    for i, (start, end) in enumerate(ranges):
        if start <= n < end:
            return i
    return -1


def not_in_experiment(experiment):
    # type: (str) -> Dict[str, Any]
    return {"experiment": experiment, "variant": None, "config": None, "in_experiment": False}


def evaluate(definition, unit_id, attributes=None):
    # type: (Dict[str, Any], Any, Optional[Dict[str, Any]]) -> Dict[str, Any]
    """One unit's assignment from one experiment's definition (the definitions endpoint's shape).
    ``attributes``, when given, are checked against the definition's ``filters`` (each must be
    equal); without them the filters are not checked, as the server's assign endpoint does."""
    key = str(definition.get("key"))
    variants = definition.get("variants") or []
    if definition.get("status", "running") != "running" or not variants or unit_id is None or unit_id == "":
        return not_in_experiment(key)
    filters = definition.get("filters") or {}
    if attributes is not None and any(str(attributes.get(k)) != str(v) for k, v in filters.items()):
        return not_in_experiment(key)
    n = hash_unit(str(definition.get("seed") or key), str(unit_id), int(definition.get("hash_version", 2)))
    if n is None:
        return not_in_experiment(key)
    weights = [float(v.get("weight", 0)) for v in variants]
    coverage = definition.get("coverage")
    index = choose_variant(n, bucket_ranges(len(variants), 1.0 if coverage is None else float(coverage), weights))
    if index < 0:
        return not_in_experiment(key)
    variant = variants[index]
    return {"experiment": key, "variant": variant.get("key"), "config": variant.get("config"), "in_experiment": True}


class ExperimentDefinitions(object):
    """The client's cached copy of the running experiments' definitions.

    Fetched on first use; after the answer's ``Cache-Control: max-age`` (30 s when absent) the next
    use revalidates it with ``If-None-Match`` (a 304 keeps the copy). When the platform cannot be
    reached or refuses, the last copy goes on serving; with no copy at all every unit is out of the
    experiment. A failure is logged once, until a fetch succeeds again, and the next try waits
    ``retry_interval`` seconds, so an outage costs the host application one timeout, not one per call.
    """

    def __init__(self, client, clock=time.monotonic, retry_interval=DEFAULT_MAX_AGE):
        # type: (Any, Callable[[], float], float) -> None
        self._client = client
        self._clock = clock
        self._retry_interval = retry_interval
        self._lock = threading.Lock()
        self._experiments = None  # type: Optional[Dict[str, Dict[str, Any]]]
        self._etag = None  # type: Optional[str]
        self._expires = float("-inf")  # the first use fetches
        self._failing = False

    def get(self):
        # type: () -> Dict[str, Dict[str, Any]]
        """The definitions by experiment key (empty when none could be had)."""
        with self._lock:
            if self._clock() >= self._expires:
                self._refresh()
            return self._experiments or {}

    def _refresh(self):
        # type: () -> None
        client = self._client
        headers = {"If-None-Match": self._etag} if self._etag and self._experiments is not None else {}
        problem = None  # type: Optional[str]
        try:
            resp = _http.request("GET", client.endpoint + DEFINITIONS_PATH, client.api_key, None, client.timeout, headers)
        except Exception as e:  # OSError, HTTPException, or anything else: assignment never raises
            resp, problem = None, repr(e)
        if resp is not None and resp.status == 304 and self._experiments is not None:
            self._fresh(resp)
            return
        if resp is not None and resp.status == 200:
            data = resp.json()
            listed = data.get("experiments") if isinstance(data, dict) else None
            if isinstance(listed, list):
                self._experiments = dict((str(e.get("key")), e) for e in listed if isinstance(e, dict))
                self._etag = resp.headers.get("etag")
                self._fresh(resp)
                return
            problem = "an answer without an experiments list"
        elif resp is not None:
            problem = resp.describe()
        self._expires = self._clock() + self._retry_interval
        if not self._failing:
            self._failing = True
            logger.warning("evalplatform: could not fetch the experiment definitions (%s); %s", problem,
                           "using the last copy" if self._experiments is not None else "units are out of every experiment until they can be fetched")

    def _fresh(self, resp):
        # type: (_http.Response) -> None
        m = _MAX_AGE.search(resp.headers.get("cache-control") or "")
        self._expires = self._clock() + (float(m.group(1)) if m else DEFAULT_MAX_AGE)
        if self._failing:
            logger.info("evalplatform: experiment definitions fetched again")
        self._failing = False
