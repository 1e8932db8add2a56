/** The url as logs and errors show it: any password replaced by `***`. Transports use it for every message naming a broker. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url.replace(
      /\/\/([^@/]*)@/,
      (_whole, auth: string) => `//${auth.includes(':') ? `${auth.split(':')[0]}:***` : '***'}@`,
    );
  }
}
