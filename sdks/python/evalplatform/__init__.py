"""EvalPlatform's Python SDK: send traces from your LLM application, score them, read reviews.

    import evalplatform
    client = evalplatform.Client()          # EVALPLATFORM_ENDPOINT, EVALPLATFORM_API_KEY
    @client.trace
    def answer(question): ...
    variant = client.assign("checkout-test", user_id)   # local evaluation, GrowthBook-compatible
"""

from .client import API_KEY_ENV, ENDPOINT_ENV, Client
from .experiments import bucket_ranges, choose_variant, hash_unit
from .tracing import Trace, assign, configure, current_trace, get_client, trace

__version__ = "0.1.0"

__all__ = ["Client", "Trace", "trace", "assign", "current_trace", "configure", "get_client", "hash_unit", "bucket_ranges",
           "choose_variant", "ENDPOINT_ENV", "API_KEY_ENV"]
