/**
 * Milliseconds to wait from a Retry-After header: delta-seconds or an HTTP date
 * (RFC 9110 10.2.3). null when absent or unreadable; never negative.
 * @param {string | null | undefined} value
 * @param {number} [nowMs]
 * @returns {number | null}
 */
export function parseRetryAfter(value, nowMs = Date.now()) {
  if (value == null) return null;
  const text = String(value).trim();
  if (text === '') return null;
  if (/^-?\d+(\.\d+)?$/.test(text)) return Math.max(0, Number(text) * 1000);
  const at = Date.parse(text);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - nowMs);
}
