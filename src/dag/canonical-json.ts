/**
 * JSON with object keys sorted at every level, so that two equal values always give the same
 * text whatever their key order. Used to compare and de-duplicate task results.
 * Follows `JSON.stringify` otherwise (`undefined` properties are dropped, a top-level
 * `undefined` gives `'null'` so that the result is always a string).
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value)) ?? 'null';
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) out[key] = sortKeys((value as Record<string, unknown>)[key]);
    return out;
  }
  return value;
}
