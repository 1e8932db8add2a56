/**
 * Python Lightbus's Redis wire format (docs/explanation/redis.md): key names,
 * the JSON blobs of calls and results, the fields of stream entries. Pure
 * functions, no I/O, so every rule is unit-tested.
 *
 * Writing: exactly the metadata fields Python expects (a Python consumer fails
 * on any other), compact JSON (Python reads it). Reading: strict about
 * metadata (a message Python would refuse is refused here too, and set aside),
 * liberal about JSON formatting.
 */
import {
  encodeForWire,
  decodeJson,
  decoded,
  errorTypeFromTrace,
  isPlainObject,
  setOwn,
  undecodable,
  type Decoded,
  type EventMessage,
  type Kwargs,
  type ResultMessage,
  type RpcMessage,
} from '@lightbus/core/transport';
import type { KeyLayout } from './options';
import { splitWireId, wireId } from './trace-id';

export type StreamUse = 'per_api' | 'per_event';

/** A stream entry's fields as Redis returns them: name, value, name, value... in pairs. */
export type FieldList = ReadonlyArray<readonly [string, string]>;

export const RETURN_PATH_PREFIX = 'redis+key://';

export const rpcQueueKey = (apiName: string): string => `${apiName}:rpc_queue`;
export const rpcExpiryKey = (rpcMessageId: string): string => `rpc_expiry_key:${rpcMessageId}`;
export const schemaKey = (apiName: string): string => `schema:${apiName}`;
export const SCHEMAS_SET_KEY = 'schemas';

/** Where undecodable or rejected messages of a stream or queue are set aside. */
export const deadLetterKey = (source: string): string => `${source}:dead_letters`;

export function streamKey(apiName: string, eventName: string, use: StreamUse): string {
  return use === 'per_event' ? `${apiName}.${eventName}:stream` : `${apiName}.*:stream`;
}

/** A glob for SCAN MATCH that matches `text` literally. */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/**
 * The names of the keys of one layout (option key_layout). `python`: Python Lightbus's. `cluster`: the
 * API name in a hash tag (`{<api>}...`), so all keys of an API share one slot of a Redis Cluster (a call's
 * expiry key and its queue, a stream and its dead letters), and the schemas share the `{lightbus}` slot
 * (SMEMBERS + MGET and the stale-member script stay single-slot). A dead-letter key is its source's name
 * plus `:dead_letters` in both.
 */
export interface KeyNames {
  readonly layout: KeyLayout;
  rpcQueue(apiName: string): string;
  rpcExpiry(apiName: string, rpcMessageId: string): string;
  stream(apiName: string, eventName: string, use: StreamUse): string;
  /** SCAN MATCH pattern of the per_event streams of an API, with `suffix` (e.g. `:dead_letters`). */
  apiStreams(apiName: string, suffix?: string): string;
  schema(apiName: string): string;
  readonly schemasSet: string;
}

export const PYTHON_KEYS: KeyNames = Object.freeze({
  layout: 'python',
  rpcQueue: rpcQueueKey,
  rpcExpiry: (_apiName: string, id: string) => rpcExpiryKey(id),
  stream: streamKey,
  apiStreams: (apiName: string, suffix = '') => `${escapeGlob(apiName)}.*:stream${suffix}`,
  schema: schemaKey,
  schemasSet: SCHEMAS_SET_KEY,
});

const tag = (apiName: string): string => `{${apiName}}`;

export const CLUSTER_KEYS: KeyNames = Object.freeze({
  layout: 'cluster',
  rpcQueue: (apiName: string) => rpcQueueKey(tag(apiName)),
  rpcExpiry: (apiName: string, id: string) => `${tag(apiName)}:${rpcExpiryKey(id)}`,
  stream: (apiName: string, eventName: string, use: StreamUse) => streamKey(tag(apiName), eventName, use),
  apiStreams: (apiName: string, suffix = '') => `${escapeGlob(tag(apiName))}.*:stream${suffix}`,
  schema: (apiName: string) => `{lightbus}:${schemaKey(apiName)}`,
  schemasSet: `{lightbus}:${SCHEMAS_SET_KEY}`,
});

export function keyNames(layout: KeyLayout): KeyNames {
  return layout === 'cluster' ? CLUSTER_KEYS : PYTHON_KEYS;
}

/** The hash slot of a key in a Redis Cluster (CRC16 of the key, or of its first non-empty `{hash tag}`, mod 16384). */
export function keySlot(key: string): number {
  let hashed = key;
  const open = key.indexOf('{');
  if (open >= 0) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) hashed = key.slice(open + 1, close);
  }
  let crc = 0;
  for (const byte of Buffer.from(hashed, 'utf8')) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit += 1) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}

export function returnPathFor(key: string): string {
  return `${RETURN_PATH_PREFIX}${key}`;
}

/** The Redis key of a return path, or undefined when it is not a Redis return path. */
export function keyOfReturnPath(returnPath: string): string | undefined {
  return returnPath.startsWith(RETURN_PATH_PREFIX) && returnPath.length > RETURN_PATH_PREFIX.length
    ? returnPath.slice(RETURN_PATH_PREFIX.length)
    : undefined;
}

/** Thrown inside this module's readers; decoders turn it into a `Decoded` failure. */
export class UndecodableMessage extends Error {
  constructor(
    readonly reason: string,
    /** The message id, when it could be read. */
    readonly messageId?: string,
  ) {
    super(reason);
    this.name = 'UndecodableMessage';
  }
}

/** Run a reader that throws UndecodableMessage; its refusal becomes the kit's Decoded failure (with the id it read). */
function decoding<T>(read: () => T): Decoded<T> {
  try {
    return decoded(read());
  } catch (error) {
    if (error instanceof UndecodableMessage) return undecodable(error.reason, error.messageId);
    throw error;
  }
}

// ---- RPC calls ------------------------------------------------------------------------------

/** The call blob: `{"kwargs": {...}, "metadata": {"api_name", "id", "procedure_name", "return_path"}}`. */
export function encodeRpcCall(message: RpcMessage): string {
  const metadata = encodeForWire(
    {
      api_name: message.apiName,
      id: wireId(message.id, message.traceContext),
      procedure_name: message.procedureName,
      return_path: message.returnPath,
    },
    'Call metadata',
  );
  return `{"kwargs":${encodeForWire(message.kwargs, `Parameters of ${message.apiName}.${message.procedureName}()`)},"metadata":${metadata}}`;
}

const RPC_METADATA = ['api_name', 'id', 'procedure_name', 'return_path'] as const;
const RESULT_METADATA_REQUIRED = ['id', 'rpc_message_id'] as const;
const RESULT_METADATA = new Set(['id', 'rpc_message_id', 'error', 'trace']);
const EVENT_METADATA = ['id', 'api_name', 'event_name', 'version'] as const;

function parseBlob(blob: string, kind: string): { metadata: Record<string, unknown>; kwargs: Record<string, unknown> } {
  let decoded: unknown;
  try {
    decoded = decodeJson(blob);
  } catch (error) {
    throw new UndecodableMessage(`${kind} is not JSON (${(error as Error).message})`, idInUnreadableBlob(blob, kind));
  }
  if (!isPlainObject(decoded)) throw new UndecodableMessage(`${kind} is not a JSON object`);
  const metadata = decoded.metadata;
  const kwargs = decoded.kwargs ?? {};
  const id = isPlainObject(metadata) && typeof metadata.id === 'string' && metadata.id ? metadata.id : undefined;
  if (!isPlainObject(metadata)) throw new UndecodableMessage(`${kind} has no "metadata" object`, id);
  if (!isPlainObject(kwargs)) throw new UndecodableMessage(`${kind}'s "kwargs" is not an object`, id);
  const extra = Object.keys(decoded).filter((key) => key !== 'metadata' && key !== 'kwargs');
  if (extra.length > 0) throw new UndecodableMessage(`${kind} has unexpected top-level keys: ${extra.join(', ')}`, id);
  return { metadata, kwargs };
}

/**
 * The call id of a blob that is not JSON, when it can still be seen (a result's
 * `rpc_message_id`, or a call's `id`), so its call fails at once instead of
 * waiting for its timeout.
 */
function idInUnreadableBlob(blob: string, kind: string): string | undefined {
  const key = kind === 'Result' ? 'rpc_message_id' : 'id';
  // Metadata comes after kwargs (both sides write keys sorted): the last match is the metadata's.
  let id: string | undefined;
  for (const match of blob.matchAll(new RegExp(`"${key}"\\s*:\\s*"([^"\\\\]+)"`, 'g'))) id = match[1];
  return id;
}

function requireStrings<K extends string>(
  metadata: Record<string, unknown>,
  keys: readonly K[],
  kind: string,
): Record<K, string> {
  const id = typeof metadata.id === 'string' && metadata.id ? metadata.id : undefined;
  for (const key of keys) {
    const value = metadata[key];
    if (value === undefined) throw new UndecodableMessage(`${kind} metadata lacks '${key}'`, id);
    if (typeof value !== 'string' || value === '') {
      throw new UndecodableMessage(`${kind} metadata '${key}' must be a non-empty string`, id);
    }
  }
  return metadata as Record<K, string>;
}

/** A call blob, refused (with its id when it could be read) where Python would refuse it. */
export function decodeRpcCall(blob: string): Decoded<RpcMessage> {
  return decoding(() => readRpcCall(blob));
}

function readRpcCall(blob: string): RpcMessage {
  const { metadata, kwargs } = parseBlob(blob, 'Call');
  const meta = requireStrings(metadata, RPC_METADATA, 'Call');
  const extra = Object.keys(metadata).filter((key) => !(RPC_METADATA as readonly string[]).includes(key));
  if (extra.length > 0)
    throw new UndecodableMessage(`Call metadata has unexpected fields: ${extra.join(', ')}`, meta.id);
  // The id stays as written (the expiry key and the result's rpc_message_id are named after it); its trace context is read.
  const { traceContext } = splitWireId(meta.id);
  return {
    id: meta.id,
    apiName: meta.api_name,
    procedureName: meta.procedure_name,
    kwargs: kwargs as Kwargs,
    returnPath: meta.return_path,
    ...(traceContext ? { traceContext } : {}),
  };
}

// ---- Results --------------------------------------------------------------------------------

/**
 * The result blob. On error `result` is the error text and `trace` the stack
 * (its first line names the error type, so a TypeScript caller recovers it).
 */
export function encodeResult(result: ResultMessage): string {
  if (!result.error) {
    return `{"kwargs":{"result":${encodeForWire(result.result ?? null, 'The result')}},"metadata":${encodeForWire(
      { error: false, id: wireId(result.id, result.traceContext), rpc_message_id: result.rpcMessageId },
      'Result metadata',
    )}}`;
  }
  const text = typeof result.result === 'string' ? result.result : safeText(result.result);
  let trace = result.trace ?? '';
  if (result.errorType && !trace.startsWith(result.errorType)) {
    trace = `${result.errorType}: ${text}${trace ? `\n${trace}` : ''}`;
  }
  return `{"kwargs":{"result":${encodeForWire(text, 'The error text')}},"metadata":${encodeForWire(
    { error: true, id: wireId(result.id, result.traceContext), rpc_message_id: result.rpcMessageId, trace },
    'Result metadata',
  )}}`;
}

function safeText(value: unknown): string {
  try {
    return typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  } catch {
    return String(value);
  }
}

/** Reads results written by TypeScript or Python workers; a refusal names the call when it could be read. */
export function decodeResult(blob: string): Decoded<ResultMessage> {
  return decoding(() => readResult(blob));
}

function readResult(blob: string): ResultMessage {
  const { metadata, kwargs } = parseBlob(blob, 'Result');
  const callId =
    typeof metadata.rpc_message_id === 'string' && metadata.rpc_message_id ? metadata.rpc_message_id : undefined;
  let meta: Record<'id' | 'rpc_message_id', string>;
  try {
    meta = requireStrings(metadata, RESULT_METADATA_REQUIRED, 'Result');
  } catch (error) {
    throw new UndecodableMessage((error as UndecodableMessage).reason, callId);
  }
  const extra = Object.keys(metadata).filter((key) => !RESULT_METADATA.has(key));
  if (extra.length > 0)
    throw new UndecodableMessage(`Result metadata has unexpected fields: ${extra.join(', ')}`, callId);
  const error = metadata.error ?? false;
  if (typeof error !== 'boolean') throw new UndecodableMessage(`Result metadata 'error' must be true or false`, callId);
  if (metadata.trace !== undefined && metadata.trace !== null && typeof metadata.trace !== 'string') {
    throw new UndecodableMessage(`Result metadata 'trace' must be text`, callId);
  }
  const result = kwargs.result ?? null;
  // The call's id as the caller knows it (a worker echoes it with its trace mark); the worker's trace context from the result id.
  const { id, traceContext } = splitWireId(meta.id);
  const rpcMessageId = splitWireId(meta.rpc_message_id).id;
  const traced = traceContext ? { traceContext } : {};
  if (!error) return { id, rpcMessageId, result, error: false, ...traced };
  const trace = typeof metadata.trace === 'string' ? metadata.trace : undefined;
  const errorType = errorTypeFromTrace(trace);
  return {
    ...traced,
    id,
    rpcMessageId,
    result: remoteErrorMessage(typeof result === 'string' ? result : safeText(result), trace, errorType),
    error: true,
    trace,
    errorType,
  };
}

/**
 * The remote error's own message. Python sends `repr(exception)` as the text
 * (`ValueError('boom')`) and the traceback, whose last line is
 * `ValueError: boom` (or `module.ValueError: boom`): the message is taken from
 * there. Any other text is returned as it is.
 */
export function remoteErrorMessage(text: string, trace: string | undefined, errorType: string | undefined): string {
  const repr = /^([A-Za-z_][\w]*)\(([\s\S]*)\)$/.exec(text);
  if (!repr || !trace) return text;
  const className = repr[1]!;
  if (errorType && errorType !== className && !errorType.endsWith(`.${className}`)) return text;
  const lines = trace.replace(/\s+$/, '').split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!;
    const match = /^([A-Za-z_][\w.]*)(?:: ([\s\S]*))?$/.exec(line);
    if (match && (match[1] === className || match[1]!.endsWith(`.${className}`))) {
      const rest = lines.slice(i + 1).join('\n');
      const first = match[2] ?? '';
      return rest ? `${first}\n${rest}` : first;
    }
  }
  return text;
}

// ---- Events ---------------------------------------------------------------------------------

/** XADD field/value arguments: id, api_name, event_name, version, then `:<param>` JSON values. */
export function encodeEventFields(message: EventMessage): string[] {
  const fields = [
    'id',
    wireId(message.id, message.traceContext),
    'api_name',
    message.apiName,
    'event_name',
    message.eventName,
    'version',
    String(message.version),
  ];
  for (const [name, value] of Object.entries(message.kwargs)) {
    if (value === undefined) continue;
    fields.push(
      `:${name}`,
      encodeForWire(value, `Parameter '${name}' of event ${message.apiName}.${message.eventName}`),
    );
  }
  return fields;
}

/** A consumer creates streams with this entry (Python does): readers skip and acknowledge it. */
export function isPlaceholder(fields: FieldList | null): boolean {
  if (fields === null || fields.length === 0) return true;
  return fields.length === 1 && fields[0]![0] === '' && fields[0]![1] === '';
}

/** Milliseconds since the epoch encoded in a stream entry id (`<ms>-<seq>`). */
export function timeOfStreamId(id: string): Date | undefined {
  const ms = Number(id.split('-')[0]);
  return Number.isFinite(ms) ? new Date(ms) : undefined;
}

/** Decode an entry's fields into an event. Throws UndecodableMessage; call isPlaceholder() first. */
export function decodeEventFields(fields: FieldList, entryId: string): EventMessage {
  const metadata: Record<string, string> = {};
  const kwargs: Kwargs = {};
  const pendingJson: Array<[string, string]> = [];
  for (const [name, value] of fields) {
    if (name === '') continue;
    if (name.startsWith(':')) pendingJson.push([name.slice(1), value]);
    else metadata[name] = value;
  }
  const id = metadata.id || undefined;
  for (const key of EVENT_METADATA) {
    if (metadata[key] === undefined)
      throw new UndecodableMessage(`Event entry ${entryId} lacks metadata field '${key}'`, id);
    if (metadata[key] === '') throw new UndecodableMessage(`Event entry ${entryId} has an empty '${key}'`, id);
  }
  const extra = Object.keys(metadata).filter((key) => !(EVENT_METADATA as readonly string[]).includes(key));
  if (extra.length > 0) {
    throw new UndecodableMessage(`Event entry ${entryId} has unexpected metadata fields: ${extra.join(', ')}`, id);
  }
  if (!/^-?\d+$/.test(metadata.version!.trim())) {
    throw new UndecodableMessage(
      `Event entry ${entryId} has a version that is not an integer: ${JSON.stringify(metadata.version)}`,
      id,
    );
  }
  for (const [name, text] of pendingJson) {
    try {
      setOwn(kwargs, name, decodeJson(text));
    } catch (error) {
      throw new UndecodableMessage(
        `Event entry ${entryId}: parameter '${name}' is not JSON (${(error as Error).message})`,
        id,
      );
    }
  }
  const { id: eventId, traceContext } = splitWireId(metadata.id!);
  return {
    id: eventId,
    ...(traceContext ? { traceContext } : {}),
    apiName: metadata.api_name!,
    eventName: metadata.event_name!,
    version: Number.parseInt(metadata.version!, 10),
    kwargs,
    nativeId: entryId,
    time: timeOfStreamId(entryId),
  };
}

// ---- Stream ids -----------------------------------------------------------------------------

const MAX_SEQ = 18446744073709551615n;

/** The stream id just before `id` (for exclusive paging backwards). */
export function previousStreamId(id: string): string | undefined {
  const [msText, seqText = '0'] = id.split('-');
  const ms = BigInt(msText!);
  const seq = BigInt(seqText);
  if (seq > 0n) return `${ms}-${seq - 1n}`;
  if (ms > 0n) return `${ms - 1n}-${MAX_SEQ}`;
  return undefined;
}

/** The stream id just after `id` (for exclusive paging forwards). */
export function nextStreamId(id: string): string {
  const [msText, seqText = '0'] = id.split('-');
  const ms = BigInt(msText!);
  const seq = BigInt(seqText);
  return seq < MAX_SEQ ? `${ms}-${seq + 1n}` : `${ms + 1n}-0`;
}

/** -1, 0, 1 as stream id a is before, equal to, after b. */
export function compareStreamIds(a: string, b: string): number {
  const [am, as = '0'] = a.split('-');
  const [bm, bs = '0'] = b.split('-');
  const ms = BigInt(am!) - BigInt(bm!);
  if (ms !== 0n) return ms < 0n ? -1 : 1;
  const seq = BigInt(as) - BigInt(bs);
  return seq === 0n ? 0 : seq < 0n ? -1 : 1;
}

export function isStreamId(text: string): boolean {
  return /^\d+(-\d+)?$/.test(text);
}
