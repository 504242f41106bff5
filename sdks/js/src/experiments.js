// Experiment assignment by local evaluation, compatible with GrowthBook's hashing (version 2).
// The platform's GET /api/v1/experiments/definitions lists the running experiments; the client keeps a
// copy (refreshed after the answer's max-age, revalidated with its ETag) and assigns units here, without
// a request per call. The platform's POST /api/v1/experiments/{key}/assign is the sticky one (it stores
// a unit's first variant); local evaluation follows the current weights.

export const DEFINITIONS_PATH = '/api/v1/experiments/definitions';
export const DEFAULT_MAX_AGE_MS = 30_000;
const MAX_AGE = /(?:^|,)\s*max-age\s*=\s*(\d+)/i;

/** FNV-1a 32-bit over the string's UTF-16 code units (charCodeAt), as GrowthBook hashes. */
export function fnv1a32(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 16777619) >>> 0;
  }
  return h >>> 0;
}

/**
 * GrowthBook's hash in [0, 1): version 2 is fnv(String(fnv(seed + value))) % 10000 / 10000, version 1
 * (legacy) fnv(value + seed) % 1000 / 1000; null for an unknown version.
 */
export function hashUnit(seed, value, version = 2) {
  if (version === 2) return (fnv1a32(String(fnv1a32(seed + value))) % 10000) / 10000;
  if (version === 1) return (fnv1a32(value + seed) % 1000) / 1000;
  return null;
}

/**
 * Each variant's [start, end) as GrowthBook computes it: coverage clamped to [0, 1]; weights that are
 * missing, of the wrong length or not adding up to 0.99–1.01 become equal; walking the variants with a
 * running sum c of the weights, variant i gets [c, c + coverage × w).
 */
export function bucketRanges(variants, coverage = 1, weights = undefined) {
  const cover = Math.min(1, Math.max(0, coverage));
  const equal = variants > 0 ? new Array(variants).fill(1 / variants) : [];
  let w = weights && weights.length === variants ? weights : equal;
  const total = w.reduce((sum, x) => sum + x, 0);
  if (total < 0.99 || total > 1.01) w = equal;
  let cumulative = 0;
  return w.map((x) => {
    const start = cumulative;
    cumulative += x;
    return [start, start + cover * x];
  });
}

/** The index of the range holding n, or -1 (in a gap, or past the last): not in the experiment. */
export function chooseVariant(n, ranges) {
  for (let i = 0; i < ranges.length; i++) {
    if (n >= ranges[i][0] && n < ranges[i][1]) return i;
  }
  return -1;
}

export const notInExperiment = (experiment) => ({ experiment, variant: null, config: null, in_experiment: false });

/**
 * One unit's assignment from one experiment's definition (the definitions endpoint's shape). attributes,
 * when given, are checked against the definition's filters (each must be equal); without them the
 * filters are not checked, as the server's assign endpoint does.
 */
export function evaluate(definition, unitId, attributes = undefined) {
  const key = String(definition.key);
  const variants = Array.isArray(definition.variants) ? definition.variants : [];
  if ((definition.status ?? 'running') !== 'running' || variants.length === 0 || unitId == null || unitId === '') {
    return notInExperiment(key);
  }
  const filters = definition.filters ?? {};
  if (attributes != null && Object.entries(filters).some(([k, v]) => String(attributes[k]) !== String(v))) {
    return notInExperiment(key);
  }
  const n = hashUnit(String(definition.seed || key), String(unitId), Number(definition.hash_version ?? 2));
  if (n === null) return notInExperiment(key);
  const ranges = bucketRanges(variants.length, definition.coverage ?? 1, variants.map((v) => Number(v.weight ?? 0)));
  const index = chooseVariant(n, ranges);
  if (index < 0) return notInExperiment(key);
  const variant = variants[index];
  return { experiment: key, variant: variant.key ?? null, config: variant.config ?? null, in_experiment: true };
}

/**
 * The client's cached copy of the running experiments' definitions. Fetched on first use; after the
 * answer's Cache-Control max-age (30 s when absent) the next use revalidates it with If-None-Match (a 304
 * keeps the copy). When the platform cannot be reached or refuses, the last copy goes on serving; with no
 * copy at all every unit is out of the experiment. A failure is warned about once (until a fetch succeeds
 * again) and the next try waits retryIntervalMs, so an outage costs one timeout, not one per call.
 */
export class ExperimentDefinitions {
  constructor(client, { clock = () => Date.now(), retryIntervalMs = DEFAULT_MAX_AGE_MS } = {}) {
    this._client = client;
    this._clock = clock;
    this._retryIntervalMs = retryIntervalMs;
    this._experiments = null;
    this._etag = null;
    this._expires = -Infinity; // the first use fetches
    this._failing = false;
    this._refreshing = null;
  }

  /** The definitions by experiment key (an empty Map when none could be had). */
  async get() {
    if (this._clock() >= this._expires) {
      // Concurrent callers share one request.
      this._refreshing ??= this._refresh().finally(() => {
        this._refreshing = null;
      });
      await this._refreshing;
    }
    return this._experiments ?? new Map();
  }

  async _refresh() {
    const headers = this._etag && this._experiments ? { 'if-none-match': this._etag } : {};
    let problem;
    try {
      const response = await this._client._request('GET', DEFINITIONS_PATH, undefined, { headers });
      if (response.status === 304 && this._experiments) {
        this._fresh(response);
        return;
      }
      if (response.status === 200) {
        const body = await response.json().catch(() => null);
        if (Array.isArray(body?.experiments)) {
          this._experiments = new Map(body.experiments.filter((e) => e && typeof e === 'object').map((e) => [String(e.key), e]));
          this._etag = response.headers.get('etag');
          this._fresh(response);
          return;
        }
        problem = 'an answer without an experiments list';
      } else {
        problem = `HTTP ${response.status}`;
        await response.arrayBuffer().catch(() => {});
      }
    } catch (e) {
      problem = String(e?.cause ?? e);
    }
    this._expires = this._clock() + this._retryIntervalMs;
    if (!this._failing) {
      this._failing = true;
      this._client._warn(`could not fetch the experiment definitions (${problem}); ${this._experiments ? 'using the last copy' : 'units are out of every experiment until they can be fetched'}`);
    }
  }

  _fresh(response) {
    const m = MAX_AGE.exec(response.headers.get('cache-control') ?? '');
    this._expires = this._clock() + (m ? Number(m[1]) * 1000 : DEFAULT_MAX_AGE_MS);
    this._failing = false;
  }
}
