"""The one place that speaks HTTP (urllib, standard library only)."""

import email.utils
import json
import time
import urllib.error
import urllib.request
from typing import Any, Dict, Optional

USER_AGENT = "evalplatform-python/0.1.0"


class Response(object):
    """A finished HTTP exchange, whatever its status."""

    __slots__ = ("status", "headers", "body")

    def __init__(self, status, headers, body):
        # type: (int, Dict[str, str], bytes) -> None
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        # type: () -> Any
        """The body as JSON, or None when it is empty or not JSON."""
        try:
            return json.loads(self.body.decode("utf-8")) if self.body else None
        except ValueError:
            return None

    def describe(self):
        # type: () -> str
        """Status and the problem's detail, for a log line."""
        data = self.json()
        detail = data.get("detail") if isinstance(data, dict) else None
        return "HTTP %d%s" % (self.status, ": " + str(detail) if detail else "")


def request(method, url, api_key, body=None, timeout=10.0, extra_headers=None):
    # type: (str, str, str, Optional[bytes], float, Optional[Dict[str, str]]) -> Response
    """Sends one request. Any HTTP status is a Response; network failures raise OSError
    (connection refused, timeout, DNS) or http.client.HTTPException (broken answer)."""
    headers = {"Authorization": "Bearer " + api_key, "Accept": "application/json", "User-Agent": USER_AGENT}
    headers.update(extra_headers or {})
    if body is not None:
        headers["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return Response(resp.status, _lower(resp.headers), resp.read())
    except urllib.error.HTTPError as e:
        try:
            data = e.read()
        except Exception:  # the error body is a courtesy; its status is what counts
            data = b""
        return Response(e.code, _lower(e.headers), data)


def _lower(headers):
    # type: (Any) -> Dict[str, str]
    return dict((k.lower(), v) for k, v in headers.items()) if headers is not None else {}


def parse_retry_after(value, now=None):
    # type: (Optional[str], Optional[float]) -> Optional[float]
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date (RFC 9110 10.2.3).
    None when absent or unreadable; never negative."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
