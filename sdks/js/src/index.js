// EvalPlatform's JavaScript SDK: send traces from your LLM application, score them, read reviews.
export { Client, ENDPOINT_ENV, API_KEY_ENV, MAX_BATCH_TRACES, MAX_BATCH_BYTES } from './client.js';
export { Trace, TRACE_FIELDS } from './trace.js';
export { parseRetryAfter } from './retry-after.js';
export { hashUnit, bucketRanges, chooseVariant, ExperimentDefinitions } from './experiments.js';
