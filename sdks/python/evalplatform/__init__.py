"""EvalPlatform's Python SDK: send traces from your LLM application, score them, read reviews.

    import evalplatform
    client = evalplatform.Client()          # EVALPLATFORM_ENDPOINT, EVALPLATFORM_API_KEY
    @client.trace
    def answer(question): ...
"""

from .client import API_KEY_ENV, ENDPOINT_ENV, Client
from .tracing import Trace, configure, current_trace, get_client, trace

__version__ = "0.1.0"

__all__ = ["Client", "Trace", "trace", "current_trace", "configure", "get_client", "ENDPOINT_ENV", "API_KEY_ENV"]
