/** How error messages name a value the user passed where something else was expected. */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'object') return Object.prototype.toString.call(value);
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}
