const plain = (_key, v) => {
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Error) return `${v.name}: ${v.message}`;
  return v;
};

/**
 * JSON.stringify that never throws on what user code hands it: bigints become strings, errors
 * their message, and (only when there is a cycle) an object seen before becomes "[Circular]".
 */
export function toJson(value) {
  try {
    return JSON.stringify(value, plain);
  } catch {
    const seen = new WeakSet();
    return JSON.stringify(value, (key, v) => {
      v = plain(key, v);
      if (v !== null && typeof v === 'object') {
        if (seen.has(v)) return '[Circular]';
        seen.add(v);
      }
      return v;
    });
  }
}
