/**
 * Messages on the wire. Bodies are UTF-8 JSON in the shape of Lightbus's Redis
 * blobs (`{"metadata": {...}, "kwargs": {...}}`); AMQP properties carry what
 * the broker and tools act on (message id, correlation id, reply-to,
 * expiration, persistence, type, timestamp). Decoders never throw: they return
 * the reason a message cannot be used, and the transport sets it aside.
 */
import {
  decodeJson,
  encodeForWire,
  isPlainObject,
  traceContextFromHeaders,
  traceHeaders,
  type ApiSchema,
  type Decoded,
  type EventMessage,
  type OutgoingRpcMessage,
  type ResultMessage,
  type RpcMessage,
} from '@lightbus/core/transport';
import { CONTENT_TYPE, HEADER, MESSAGE_TYPE } from './topology';

/** The AMQP properties the transport sets (a subset of amqplib's publish options). */
export interface Properties {
  messageId?: string;
  correlationId?: string;
  replyTo?: string;
  expiration?: string;
  contentType?: string;
  contentEncoding?: string;
  type?: string;
  timestamp?: number;
  persistent?: boolean;
  appId?: string;
  headers?: Record<string, unknown>;
}

/** What arrives: body and the properties the decoders read. */
export interface Incoming {
  readonly content: Buffer;
  readonly properties: {
    readonly messageId?: unknown;
    readonly correlationId?: unknown;
    readonly replyTo?: unknown;
    readonly type?: unknown;
    readonly headers?: Record<string, unknown> | undefined;
  };
  readonly fields?: { readonly routingKey?: string };
}

const RETURN_PATH_SCHEME = 'amqp:';

/** The return path of an AMQP reply address (a queue name, or amq.rabbitmq.reply-to). */
export function returnPathFor(replyAddress: string): string {
  return `${RETURN_PATH_SCHEME}${replyAddress}`;
}

/** The reply address in an AMQP return path; undefined for another transport's return path. */
export function replyAddressOf(returnPath: string): string | undefined {
  return returnPath.startsWith(RETURN_PATH_SCHEME) ? returnPath.slice(RETURN_PATH_SCHEME.length) : undefined;
}

function json(value: unknown, what: string): Buffer {
  return Buffer.from(encodeForWire(value, what), 'utf8');
}

function parse(content: Buffer): Decoded<Record<string, unknown>> {
  let value: unknown;
  try {
    value = decodeJson(content.toString('utf8'));
  } catch (error) {
    return { ok: false, reason: `body is not JSON (${(error as Error).message})` };
  }
  if (!isPlainObject(value)) return { ok: false, reason: 'body is not a JSON object' };
  return { ok: true, value };
}

/** A body `{"metadata": {...}, ...}`: the object and its metadata. */
function parseMessage(content: Buffer): Decoded<{ body: Record<string, unknown>; metadata: Record<string, unknown> }> {
  const body = parse(content);
  if (!body.ok) return body;
  const metadata = metadataOf(body.value);
  if (!metadata.ok) return metadata;
  return { ok: true, value: { body: body.value, metadata: metadata.value } };
}

function metadataOf(body: Record<string, unknown>): Decoded<Record<string, unknown>> {
  if (!isPlainObject(body.metadata)) return { ok: false, reason: "body has no 'metadata' object" };
  return { ok: true, value: body.metadata };
}

function text(metadata: Record<string, unknown>, key: string): string | undefined {
  const value = metadata[key];
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function header(message: Incoming, name: string): unknown {
  return message.properties.headers?.[name];
}

/** A numeric header: a finite number, a bigint (64-bit AMQP longs), or a string of digits; anything else is undefined. */
export function numberHeader(message: Incoming, name: string): number | undefined {
  const value = header(message, name);
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'string' && /^\d+$/.test(value)) return Number(value);
  return undefined;
}

/** The trace context a message carries (its traceparent/tracestate headers, as text or bytes). */
function traceContextOf(message: Incoming): ReturnType<typeof traceContextFromHeaders> {
  return traceContextFromHeaders((name) => {
    const value = header(message, name);
    if (Buffer.isBuffer(value)) return value.toString('utf8');
    return typeof value === 'string' ? value : undefined;
  });
}

// ---- calls ---------------------------------------------------------------------------------

export interface EncodedMessage {
  readonly content: Buffer;
  readonly properties: Properties;
}

/** A call: its deadline is both the message's expiration and a header the worker checks. */
export function encodeCall(message: OutgoingRpcMessage, now = Date.now()): EncodedMessage {
  const { deadline } = message;
  const content = json(
    {
      metadata: { id: message.id, api_name: message.apiName, procedure_name: message.procedureName },
      kwargs: message.kwargs,
    },
    `The parameters of ${message.apiName}.${message.procedureName}()`,
  );
  const headers: Record<string, unknown> = { [HEADER.deadline]: deadline, ...traceHeaders(message.traceContext) };
  const replyTo = replyAddressOf(message.returnPath);
  if (replyTo === undefined && message.returnPath) headers[HEADER.returnPath] = message.returnPath;
  return {
    content,
    properties: {
      messageId: message.id,
      correlationId: message.id,
      ...(replyTo !== undefined ? { replyTo } : {}),
      expiration: String(Math.max(0, Math.ceil(deadline - now))),
      contentType: CONTENT_TYPE,
      contentEncoding: 'utf-8',
      type: MESSAGE_TYPE.call,
      timestamp: Math.floor(now / 1000),
      persistent: false,
      headers,
    },
  };
}

export function decodeCall(message: Incoming): Decoded<RpcMessage> {
  const parsed = parseMessage(message.content);
  if (!parsed.ok) return parsed;
  const { body, metadata } = parsed.value;
  const id = text(metadata, 'id');
  const apiName = text(metadata, 'api_name');
  const procedureName = text(metadata, 'procedure_name');
  if (!id || !apiName || !procedureName) return { ok: false, reason: 'metadata lacks id, api_name or procedure_name' };
  const kwargs = body.kwargs;
  if (!isPlainObject(kwargs)) return { ok: false, reason: "'kwargs' is not a JSON object" };
  const replyTo =
    typeof message.properties.replyTo === 'string' && message.properties.replyTo
      ? message.properties.replyTo
      : undefined;
  const foreign = header(message, HEADER.returnPath);
  const returnPath = replyTo !== undefined ? returnPathFor(replyTo) : typeof foreign === 'string' ? foreign : '';
  const deadline = numberHeader(message, HEADER.deadline);
  return {
    ok: true,
    value: {
      id,
      apiName,
      procedureName,
      kwargs,
      returnPath,
      ...(deadline !== undefined ? { deadline } : {}),
      ...traceContextOf(message),
    },
  };
}

// ---- results -------------------------------------------------------------------------------

export function encodeResult(call: RpcMessage, result: ResultMessage): EncodedMessage {
  const metadata: Record<string, unknown> = { id: result.id, rpc_message_id: result.rpcMessageId, error: result.error };
  if (result.trace !== undefined) metadata.trace = result.trace;
  if (result.errorType !== undefined) metadata.error_type = result.errorType;
  const content = json(
    { metadata, kwargs: { result: result.result } },
    `The result of ${call.apiName}.${call.procedureName}()`,
  );
  return {
    content,
    properties: {
      messageId: result.id,
      correlationId: result.rpcMessageId,
      contentType: CONTENT_TYPE,
      contentEncoding: 'utf-8',
      type: MESSAGE_TYPE.result,
      persistent: false,
      headers: traceHeaders(result.traceContext),
    },
  };
}

export function decodeResult(message: Incoming): Decoded<ResultMessage> {
  const parsed = parseMessage(message.content);
  if (!parsed.ok) return parsed;
  const { body, metadata } = parsed.value;
  const id = text(metadata, 'id');
  const rpcMessageId = text(metadata, 'rpc_message_id');
  const error = metadata.error;
  if (!id || !rpcMessageId || typeof error !== 'boolean')
    return { ok: false, reason: 'metadata lacks id, rpc_message_id or error' };
  const kwargs = body.kwargs;
  if (!isPlainObject(kwargs) || !('result' in kwargs)) return { ok: false, reason: "'kwargs' has no 'result'" };
  const trace = text(metadata, 'trace');
  const errorType = text(metadata, 'error_type');
  return {
    ok: true,
    value: {
      id,
      rpcMessageId,
      result: kwargs.result,
      error,
      ...(trace ? { trace } : {}),
      ...(errorType ? { errorType } : {}),
      ...traceContextOf(message),
    },
  };
}

// ---- events --------------------------------------------------------------------------------

export function encodeEvent(message: EventMessage, persistent: boolean, now = Date.now()): EncodedMessage {
  const content = json(
    {
      metadata: { id: message.id, api_name: message.apiName, event_name: message.eventName, version: message.version },
      kwargs: message.kwargs,
    },
    `The parameters of event ${message.apiName}.${message.eventName}`,
  );
  return {
    content,
    properties: {
      messageId: message.id,
      contentType: CONTENT_TYPE,
      contentEncoding: 'utf-8',
      type: MESSAGE_TYPE.event,
      timestamp: Math.floor(now / 1000),
      persistent,
      headers: { [HEADER.time]: now, ...traceHeaders(message.traceContext) },
    },
  };
}

/** Decode an event; `nativeId` is the stream offset where the event came from a stream. */
export function decodeEvent(message: Incoming, nativeId?: string): Decoded<EventMessage> {
  const parsed = parseMessage(message.content);
  if (!parsed.ok) return parsed;
  const { body, metadata } = parsed.value;
  const id = text(metadata, 'id');
  const apiName = text(metadata, 'api_name');
  const eventName = text(metadata, 'event_name');
  if (!id || !apiName || !eventName) return { ok: false, reason: 'metadata lacks id, api_name or event_name' };
  const rawVersion = metadata.version;
  const version = rawVersion === undefined ? 1 : Number(rawVersion);
  if (!Number.isInteger(version)) return { ok: false, reason: "metadata 'version' is not an integer" };
  const kwargs = body.kwargs;
  if (!isPlainObject(kwargs)) return { ok: false, reason: "'kwargs' is not a JSON object" };
  const time = numberHeader(message, HEADER.time);
  return {
    ok: true,
    value: {
      id,
      apiName,
      eventName,
      version,
      kwargs,
      ...(nativeId !== undefined ? { nativeId } : {}),
      ...(time !== undefined ? { time: new Date(time) } : {}),
      ...traceContextOf(message),
    },
  };
}

/** Publisher time of an event (header lightbus-time, else the AMQP timestamp in seconds). */
export function eventTime(message: Incoming & { properties: { timestamp?: unknown } }): number | undefined {
  const time = numberHeader(message, HEADER.time);
  if (time !== undefined) return time;
  const seconds = message.properties.timestamp;
  return typeof seconds === 'number' ? seconds * 1000 : undefined;
}

// ---- schemas -------------------------------------------------------------------------------

export interface SchemaAnnouncement {
  readonly apiName: string;
  readonly schema: ApiSchema;
  /** Epoch milliseconds (the storing process's clock). */
  readonly expiresAt: number;
}

export function encodeSchema(apiName: string, schema: ApiSchema, expiresAt: number): EncodedMessage {
  return {
    content: json({ metadata: { api_name: apiName, expires_at: expiresAt }, schema }, `The schema of API '${apiName}'`),
    properties: {
      contentType: CONTENT_TYPE,
      contentEncoding: 'utf-8',
      type: MESSAGE_TYPE.schema,
      timestamp: Math.floor(Date.now() / 1000),
      persistent: true,
    },
  };
}

export function decodeSchema(message: Incoming): Decoded<SchemaAnnouncement> {
  const parsed = parseMessage(message.content);
  if (!parsed.ok) return parsed;
  const { body, metadata } = parsed.value;
  const apiName = text(metadata, 'api_name');
  const expiresAt = metadata.expires_at;
  if (!apiName || typeof expiresAt !== 'number') return { ok: false, reason: 'metadata lacks api_name or expires_at' };
  const schema = body.schema;
  if (!isPlainObject(schema)) return { ok: false, reason: "'schema' is not a JSON object" };
  return { ok: true, value: { apiName, schema: schema as unknown as ApiSchema, expiresAt } };
}

/** The id of a message for logs: its message id, else its correlation id, else "(no id)". */
export function idForLog(message: Incoming): string {
  const { messageId, correlationId } = message.properties;
  if (typeof messageId === 'string' && messageId) return messageId;
  if (typeof correlationId === 'string' && correlationId) return correlationId;
  return '(no id)';
}

export function isMarker(message: Incoming): boolean {
  return message.properties.type === MESSAGE_TYPE.marker;
}
