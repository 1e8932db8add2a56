/** How the `lightbus` commands print what they read: events as JSON objects or text, tables for people. */
import type { EventMessage } from '../message';

/** Where a command writes and reads (the process's streams; tests give their own). */
export interface CommandIo {
  readonly out: NodeJS.WritableStream;
  /** Notes, hints, prompts and warnings: never mixed into the output scripts read. */
  readonly err: NodeJS.WritableStream;
  readonly input: NodeJS.ReadableStream & { readonly isTTY?: boolean };
}

export function processIo(): CommandIo {
  return { out: process.stdout, err: process.stderr, input: process.stdin };
}

/** An event as one JSON object (the wire's field names, as Python's inspect prints them). */
export function eventJson(message: EventMessage): Record<string, unknown> {
  const { id, apiName, eventName, version, kwargs, nativeId, time } = message;
  return {
    id,
    api_name: apiName,
    event_name: eventName,
    version,
    kwargs,
    ...(nativeId !== undefined ? { native_id: nativeId } : {}),
    ...(time !== undefined ? { time: time.toISOString() } : {}),
  };
}

/** An event as two lines of text: when, which, ids; then its parameters. */
export function eventText(message: EventMessage): string {
  const { time, apiName, eventName, id, nativeId, kwargs } = message;
  return (
    `${time?.toISOString() ?? '-'}  ${apiName}.${eventName}  id=${id}${nativeId ? ` native_id=${nativeId}` : ''}\n` +
    `    ${JSON.stringify(kwargs)}\n`
  );
}

/** Cut to `width` characters (an ellipsis marks the cut); newlines become spaces. */
export function truncate(text: string, width: number): string {
  const flat = text.replace(/\s*\n\s*/g, ' ');
  return flat.length <= width ? flat : `${flat.slice(0, Math.max(0, width - 1))}…`;
}

/** Rows under a header, columns padded to their widest cell (the last column is not padded). */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}
