/**
 * The wire format: how Lightbus messages become Kafka records (key, value,
 * headers) and back. Stable; documented in docs/explanation/kafka-topics.md.
 *
 * - Events follow the CloudEvents 1.0 Kafka binding in binary mode: the event's
 *   parameters are the JSON value; id, type (`<api>.<event>`), source, time and
 *   the API version travel as `ce_*` headers, so consumers filter and route
 *   without parsing the value.
 * - Calls: JSON parameters as the value, everything else in `lightbus-*`
 *   headers (the deadline among them, so an expired call is skipped unread).
 * - Results: the JSON return value (or the error) as the value, the call id in
 *   `lightbus-correlation-id`.
 * - Schemas: one record per API (key = API name) whose value says when it was
 *   stored and for how long it lives.
 */
import {
  decodeJson,
  encodeForWire,
  isPlainObject,
  traceContextFromHeaders,
  traceHeaders,
  undecodable,
  type ApiSchema,
  type Decoded,
  type EventMessage,
  type OutgoingRpcMessage,
  type ResultMessage,
  type RpcMessage,
} from '@lightbus/core/transport';
import type { PartitionKeyOption } from './options';

/** A record to produce. */
export interface OutgoingRecord {
  readonly key: string | Buffer | null;
  /** null: a tombstone (removes the key from a compacted topic). */
  readonly value: string | Buffer | null;
  readonly headers: Record<string, string | Buffer>;
  /** Set for replies: the caller's partition of the reply topic. */
  readonly partition?: number;
}

export type HeaderValue = Buffer | string | Array<Buffer | string> | undefined;

/** A record as consumed (the parts the codec reads). */
export interface IncomingRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  /** Milliseconds since the epoch, as text (Kafka's record timestamp). */
  readonly timestamp: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers?: Record<string, HeaderValue>;
}

/** A message as kafkajs hands it over (group consumer or partition reader). */
export interface FetchedMessage {
  readonly offset: string;
  readonly timestamp: string;
  readonly key?: Buffer | null;
  readonly value: Buffer | null;
  readonly headers?: Record<string, HeaderValue>;
}

/** A fetched kafkajs message of a topic's partition as the codec reads it. */
export function toIncomingRecord(topic: string, partition: number, message: FetchedMessage): IncomingRecord {
  return {
    topic,
    partition,
    offset: message.offset,
    timestamp: message.timestamp,
    key: message.key ?? null,
    value: message.value,
    headers: message.headers ?? {},
  };
}

export const CONTENT_TYPE = 'application/json';

export const H = {
  contentType: 'content-type',
  ceSpecVersion: 'ce_specversion',
  ceId: 'ce_id',
  ceSource: 'ce_source',
  ceType: 'ce_type',
  ceTime: 'ce_time',
  ceApiVersion: 'ce_apiversion',
  id: 'lightbus-id',
  api: 'lightbus-api',
  procedure: 'lightbus-procedure',
  deadline: 'lightbus-deadline',
  replyTo: 'lightbus-reply-to',
  correlationId: 'lightbus-correlation-id',
  status: 'lightbus-status',
  errorType: 'lightbus-error-type',
  dlReason: 'lightbus-dead-letter-reason',
  dlGroup: 'lightbus-dead-letter-group',
  dlTopic: 'lightbus-dead-letter-topic',
  dlPartition: 'lightbus-dead-letter-partition',
  dlOffset: 'lightbus-dead-letter-offset',
  dlTime: 'lightbus-dead-letter-time',
  replayGroup: 'lightbus-replay-group',
} as const;

/** One header as text (the last one when a header repeats). */
export function header(record: Pick<IncomingRecord, 'headers'>, name: string): string | undefined {
  const raw = record.headers?.[name];
  const last = Array.isArray(raw) ? raw[raw.length - 1] : raw;
  if (last === undefined) return undefined;
  return typeof last === 'string' ? last : last.toString('utf8');
}

/** The trace context a record carries (its traceparent/tracestate headers). */
function traceContextOf(record: Pick<IncomingRecord, 'headers'>): ReturnType<typeof traceContextFromHeaders> {
  return traceContextFromHeaders((name) => header(record, name));
}

function parseJson(record: IncomingRecord): Decoded<unknown> {
  const contentType = header(record, H.contentType);
  if (contentType !== undefined && !contentType.toLowerCase().startsWith(CONTENT_TYPE)) {
    return { ok: false, reason: `content-type '${contentType}' is not ${CONTENT_TYPE}` };
  }
  if (record.value === null) return { ok: false, reason: 'the record has no value' };
  try {
    return { ok: true, value: decodeJson(record.value.toString('utf8')) };
  } catch (error) {
    return { ok: false, reason: `the value is not JSON (${(error as Error).message})` };
  }
}

// ---- events ---------------------------------------------------------------------------------

/** The partition key of an event under the configured choice. */
export function eventKey(choice: PartitionKeyOption, message: EventMessage): string {
  if (choice === 'api') return message.apiName;
  if (choice === 'event') return `${message.apiName}.${message.eventName}`;
  if (choice === 'id') return message.id;
  const value = message.kwargs[choice.parameter];
  if (value === undefined || value === null) return `${message.apiName}.${message.eventName}`;
  return typeof value === 'string' ? value : encodeForWire(value, `partition key parameter '${choice.parameter}'`);
}

export function encodeEvent(message: EventMessage, key: string, source: string, now = new Date()): OutgoingRecord {
  return {
    key,
    value: encodeForWire(message.kwargs, `the parameters of event ${message.apiName}.${message.eventName}`),
    headers: {
      [H.ceSpecVersion]: '1.0',
      [H.ceId]: message.id,
      [H.ceSource]: source,
      [H.ceType]: `${message.apiName}.${message.eventName}`,
      [H.ceTime]: now.toISOString(),
      [H.ceApiVersion]: String(message.version),
      [H.contentType]: CONTENT_TYPE,
      ...traceHeaders(message.traceContext),
    },
  };
}

/** The (api, event) of an event record from its headers alone, or undefined when it has none. */
export function eventTypeOf(
  record: Pick<IncomingRecord, 'headers'>,
): { apiName: string; eventName: string } | undefined {
  const type = header(record, H.ceType);
  if (!type) return undefined;
  const dot = type.lastIndexOf('.');
  if (dot <= 0 || dot === type.length - 1) return undefined;
  return { apiName: type.slice(0, dot), eventName: type.slice(dot + 1) };
}

/** `<topic>:<partition>:<offset>`: an event's position, usable as `since: { position }`. */
export function nativeIdOf(record: Pick<IncomingRecord, 'topic' | 'partition' | 'offset'>): string {
  return `${record.topic}:${record.partition}:${record.offset}`;
}

export function decodeEvent(record: IncomingRecord): Decoded<EventMessage> {
  const id = header(record, H.ceId);
  if (header(record, H.ceSpecVersion) !== '1.0')
    return undecodable('no ce_specversion 1.0 header (not a Lightbus event)', id);
  if (!id) return undecodable('no ce_id header', id);
  const type = eventTypeOf(record);
  if (!type) return undecodable(`ce_type header '${header(record, H.ceType) ?? ''}' is not <api>.<event>`, id);
  const versionText = header(record, H.ceApiVersion);
  const version = versionText === undefined ? 1 : Number(versionText);
  if (!Number.isInteger(version)) return undecodable(`ce_apiversion header '${versionText}' is not an integer`, id);
  const parsed = parseJson(record);
  if (!parsed.ok) return undecodable(parsed.reason, id);
  if (!isPlainObject(parsed.value)) return undecodable('the value is not a JSON object of parameters', id);
  const millis = Number(record.timestamp);
  return {
    ok: true,
    value: {
      id,
      apiName: type.apiName,
      eventName: type.eventName,
      version,
      kwargs: parsed.value,
      nativeId: nativeIdOf(record),
      ...(Number.isFinite(millis) && millis > 0 ? { time: new Date(millis) } : {}),
      ...traceContextOf(record),
    },
  };
}

// ---- calls ----------------------------------------------------------------------------------

export function encodeRequest(message: OutgoingRpcMessage): OutgoingRecord {
  const headers: Record<string, string> = {
    [H.id]: message.id,
    [H.api]: message.apiName,
    [H.procedure]: message.procedureName,
    [H.replyTo]: message.returnPath,
    [H.contentType]: CONTENT_TYPE,
    [H.deadline]: String(message.deadline),
    ...traceHeaders(message.traceContext),
  };
  return {
    key: message.id,
    value: encodeForWire(message.kwargs, `the parameters of ${message.apiName}.${message.procedureName}()`),
    headers,
  };
}

/** A call's deadline (ms since the epoch) from its headers, without parsing the value. */
export function requestDeadline(record: Pick<IncomingRecord, 'headers'>): number | undefined {
  const text = header(record, H.deadline);
  if (text === undefined) return undefined;
  const deadline = Number(text);
  return Number.isFinite(deadline) ? deadline : undefined;
}

export function decodeRequest(record: IncomingRecord): Decoded<RpcMessage> {
  const id = header(record, H.id);
  const apiName = header(record, H.api);
  const procedureName = header(record, H.procedure);
  const returnPath = header(record, H.replyTo);
  if (!id) return undecodable('no lightbus-id header (not a Lightbus call)');
  if (!apiName || !procedureName) return undecodable('no lightbus-api or lightbus-procedure header', id);
  if (!returnPath) return undecodable('no lightbus-reply-to header', id);
  const parsed = parseJson(record);
  if (!parsed.ok) return undecodable(parsed.reason, id);
  if (!isPlainObject(parsed.value)) return undecodable('the value is not a JSON object of parameters', id);
  const deadline = requestDeadline(record);
  return {
    ok: true,
    value: {
      id,
      apiName,
      procedureName,
      kwargs: parsed.value,
      returnPath,
      ...(deadline !== undefined ? { deadline } : {}),
      ...traceContextOf(record),
    },
  };
}

// ---- results --------------------------------------------------------------------------------

export interface ReturnPath {
  readonly topic: string;
  readonly partition: number;
  /** The calling process's token: the record key of its replies. */
  readonly token: string;
}

const RETURN_PATH = /^kafka:\/\/([A-Za-z0-9._-]+)\/(\d+)\/([^/]+)$/;

export function formatReturnPath(path: ReturnPath): string {
  return `kafka://${path.topic}/${path.partition}/${encodeURIComponent(path.token)}`;
}

export function parseReturnPath(text: string): ReturnPath | undefined {
  const match = RETURN_PATH.exec(text);
  if (!match) return undefined;
  try {
    return { topic: match[1]!, partition: Number(match[2]), token: decodeURIComponent(match[3]!) };
  } catch {
    return undefined;
  }
}

export function encodeResult(result: ResultMessage, token: string, partition: number): OutgoingRecord {
  const headers: Record<string, string> = {
    [H.id]: result.id,
    [H.correlationId]: result.rpcMessageId,
    [H.status]: result.error ? 'error' : 'ok',
    [H.contentType]: CONTENT_TYPE,
    ...traceHeaders(result.traceContext),
  };
  if (result.error && result.errorType) headers[H.errorType] = result.errorType;
  const value = result.error
    ? encodeForWire(
        {
          message: typeof result.result === 'string' ? result.result : String(result.result),
          trace: result.trace ?? '',
        },
        'an error result',
      )
    : encodeForWire(result.result === undefined ? null : result.result, 'a result');
  return { key: token, value, headers, partition };
}

/** The call id a reply answers, without parsing the value. */
export function correlationIdOf(record: Pick<IncomingRecord, 'headers'>): string | undefined {
  return header(record, H.correlationId);
}

export function decodeResult(record: IncomingRecord): Decoded<ResultMessage> {
  const rpcMessageId = correlationIdOf(record);
  const id = header(record, H.id);
  if (!rpcMessageId || !id) return undecodable('no lightbus-correlation-id or lightbus-id header', rpcMessageId);
  const status = header(record, H.status);
  const parsed = parseJson(record);
  if (!parsed.ok) return undecodable(parsed.reason, rpcMessageId);
  if (status === 'ok')
    return { ok: true, value: { id, rpcMessageId, result: parsed.value, error: false, ...traceContextOf(record) } };
  if (status !== 'error') return undecodable(`lightbus-status '${status ?? ''}' is neither ok nor error`, rpcMessageId);
  const body = isPlainObject(parsed.value) ? parsed.value : {};
  const errorType = header(record, H.errorType);
  return {
    ok: true,
    value: {
      id,
      rpcMessageId,
      result: typeof body.message === 'string' ? body.message : String(body.message ?? 'remote error'),
      error: true,
      trace: typeof body.trace === 'string' ? body.trace : '',
      ...(errorType ? { errorType } : {}),
      ...traceContextOf(record),
    },
  };
}

// ---- schemas --------------------------------------------------------------------------------

export interface StoredSchema {
  readonly apiName: string;
  readonly schema: ApiSchema;
  /** Milliseconds since the epoch after which the schema is gone unless stored again. */
  readonly expiresAt: number;
}

export function encodeSchema(apiName: string, schema: ApiSchema, ttlSeconds: number, now = Date.now()): OutgoingRecord {
  return {
    key: apiName,
    value: encodeForWire(
      { api_name: apiName, schema, stored_at: now, ttl_seconds: ttlSeconds },
      `the schema of API '${apiName}'`,
    ),
    headers: { [H.contentType]: CONTENT_TYPE },
  };
}

export function decodeSchema(record: IncomingRecord): Decoded<StoredSchema> {
  const key = record.key?.toString('utf8');
  const parsed = parseJson(record);
  if (!parsed.ok) return undecodable(parsed.reason, key);
  const value = parsed.value;
  if (!isPlainObject(value) || typeof value.api_name !== 'string' || !isPlainObject(value.schema)) {
    return undecodable('not a Lightbus schema record ({api_name, schema, stored_at, ttl_seconds})', key);
  }
  const storedAt = Number(value.stored_at);
  const ttl = Number(value.ttl_seconds);
  if (!Number.isFinite(storedAt) || !Number.isFinite(ttl))
    return undecodable('stored_at or ttl_seconds is not a number', key);
  return {
    ok: true,
    value: { apiName: value.api_name, schema: value.schema as unknown as ApiSchema, expiresAt: storedAt + ttl * 1000 },
  };
}

// ---- dead letters ---------------------------------------------------------------------------

/** The record to put on the dead-letter topic: the original, plus why and where from. */
export function deadLetterOf(record: IncomingRecord, reason: string, group: string, now = new Date()): OutgoingRecord {
  const headers: Record<string, string | Buffer> = {};
  for (const [name, raw] of Object.entries(record.headers ?? {})) {
    const value = Array.isArray(raw) ? raw[raw.length - 1] : raw;
    if (value !== undefined) headers[name] = value;
  }
  Object.assign(headers, {
    [H.dlReason]: reason,
    [H.dlGroup]: group,
    [H.dlTopic]: record.topic,
    [H.dlPartition]: String(record.partition),
    [H.dlOffset]: record.offset,
    [H.dlTime]: now.toISOString(),
  });
  return { key: record.key, value: record.value ?? Buffer.alloc(0), headers };
}

/** The headers deadLetterOf() adds, which a replay takes off again. */
const DEAD_LETTER_HEADERS: ReadonlySet<string> = new Set([
  H.dlReason,
  H.dlGroup,
  H.dlTopic,
  H.dlPartition,
  H.dlOffset,
  H.dlTime,
  H.replayGroup,
]);

/** Where a dead-letter record came from (its lightbus-dead-letter-* headers), or undefined when it names no topic. */
export function deadLetterOrigin(
  record: Pick<IncomingRecord, 'headers'>,
): { topic: string; partition?: number; offset?: string; group?: string } | undefined {
  const topic = header(record, H.dlTopic);
  if (!topic) return undefined;
  const partition = Number(header(record, H.dlPartition));
  const offset = header(record, H.dlOffset);
  const group = header(record, H.dlGroup);
  return {
    topic,
    ...(Number.isInteger(partition) && partition >= 0 ? { partition } : {}),
    ...(offset !== undefined && /^\d+$/.test(offset) ? { offset } : {}),
    ...(group ? { group } : {}),
  };
}

/**
 * The original record inside a dead-letter record: its key, value and headers without the
 * dead-letter ones, at the place it was taken from. Its timestamp is when it was fired
 * (ce_time) where that is known, else the dead-letter record's.
 */
export function originalOf(deadLetter: IncomingRecord): IncomingRecord {
  const origin = deadLetterOrigin(deadLetter);
  const headers: Record<string, HeaderValue> = {};
  for (const [name, value] of Object.entries(deadLetter.headers ?? {}))
    if (!DEAD_LETTER_HEADERS.has(name)) headers[name] = value;
  const fired = Date.parse(header(deadLetter, H.ceTime) ?? '');
  return {
    topic: origin?.topic ?? deadLetter.topic,
    partition: origin?.partition ?? deadLetter.partition,
    offset: origin?.offset ?? deadLetter.offset,
    timestamp: Number.isFinite(fired) ? String(fired) : deadLetter.timestamp,
    key: deadLetter.key,
    value: deadLetter.value,
    headers,
  };
}

/**
 * The record that replays a dead letter: the original key, value and headers, plus
 * `lightbus-replay-group` naming the one consumer group that handles it (every other
 * group's consumer skips it). Without a group, every group gets it.
 */
export function replayOf(deadLetter: IncomingRecord, group: string | undefined): OutgoingRecord {
  const headers: Record<string, string | Buffer> = {};
  for (const [name, raw] of Object.entries(originalOf(deadLetter).headers ?? {})) {
    const value = Array.isArray(raw) ? raw[raw.length - 1] : raw;
    if (value !== undefined) headers[name] = value;
  }
  if (group !== undefined) headers[H.replayGroup] = group;
  return { key: deadLetter.key, value: deadLetter.value ?? Buffer.alloc(0), headers };
}

/** The one consumer group a replayed record is for, or undefined for an ordinary record (for every group). */
export function replayGroupOf(record: Pick<IncomingRecord, 'headers'>): string | undefined {
  return header(record, H.replayGroup);
}
