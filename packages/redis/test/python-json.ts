/** JSON the way Python's json.dumps(sort_keys=True) writes it: sorted keys, ", " and ": ". */
export function pythonJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(pythonJson).join(', ')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}: ${pythonJson((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(', ')}}`;
  }
  return JSON.stringify(value);
}
