/**
 * The only module that imports amqplib. Everything else in this package talks
 * to the broker through the small surface below, so the client library can be
 * replaced (or upgraded across majors) here alone.
 */
import { readFileSync } from 'node:fs';
import * as amqplib from 'amqplib';
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import type { AmqpConnectionOptions } from './options';

export type Connection = amqplib.ChannelModel;
export type Channel = amqplib.Channel;
export type ConfirmChannel = amqplib.ConfirmChannel;
export type Delivery = amqplib.ConsumeMessage;
/** A message taken with basic.get. */
export type Fetched = amqplib.GetMessage;
/** A message RabbitMQ gave back (basic.return); its fields also carry replyCode and replyText. */
export type Returned = amqplib.Message;
export type PublishOptions = amqplib.Options.Publish;

export interface OpenSettings {
  readonly options: AmqpConnectionOptions;
  /** Client property connection_name: shown by RabbitMQ, used to find a connection. */
  readonly connectionName: string;
  /** Extra client properties (service, process, role). */
  readonly clientProperties: Record<string, string>;
}

/** The url amqplib gets: heartbeat and frame settings added as query parameters unless the url sets them. */
export function connectionUrl(options: Pick<AmqpConnectionOptions, 'url' | 'heartbeat'>): string {
  const url = new URL(options.url);
  if (!url.searchParams.has('heartbeat')) url.searchParams.set('heartbeat', String(options.heartbeat));
  return url.toString();
}

function readTlsFile(path: string, key: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new Error(`Cannot read tls.${key} '${path}': ${(error as Error).message}`, { cause: error });
  }
}

/** Socket options: TCP_NODELAY (RPC latency), connect timeout, TLS files, client properties. */
export function socketOptions(settings: OpenSettings): amqplib.SocketOptions {
  const { options } = settings;
  const socket: amqplib.SocketOptions = {
    noDelay: true,
    keepAlive: true,
    timeout: Math.round(options.connection_timeout * 1000),
    clientProperties: { connection_name: settings.connectionName, ...settings.clientProperties },
  };
  const tls = options.tls;
  if (tls) {
    const extra: TlsConnectionOptions = { rejectUnauthorized: tls.reject_unauthorized };
    if (tls.ca_file) extra.ca = [readTlsFile(tls.ca_file, 'ca_file')];
    if (tls.cert_file) extra.cert = readTlsFile(tls.cert_file, 'cert_file');
    if (tls.key_file) extra.key = readTlsFile(tls.key_file, 'key_file');
    if (tls.passphrase !== undefined) extra.passphrase = tls.passphrase;
    if (tls.servername) extra.servername = tls.servername;
    Object.assign(socket, extra);
  }
  return socket;
}

/**
 * Open one AMQP connection (no retries here: the Link decides about those).
 * `signal` (the Link closing) ends the attempt at once: its socket is destroyed
 * and its timer cleared, so nothing of it keeps the process alive.
 */
export async function openConnection(settings: OpenSettings, signal?: AbortSignal): Promise<Connection> {
  const url = connectionUrl(settings.options);
  // The socket is destroyed when this attempt is given up (timeout or `signal`); never once it is open.
  const attempt = new AbortController();
  const socket: amqplib.SocketOptions & { signal?: AbortSignal } = {
    ...socketOptions(settings),
    signal: attempt.signal,
  };
  // amqplib's `timeout` only guards the TCP connect; guard the whole handshake too.
  const timeoutMs = Math.round(settings.options.connection_timeout * 1000);
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  if (signal?.aborted) throw new Error('the connection attempt was abandoned: the transport is closing');
  const opening = amqplib.connect(url, socket);
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer within ${settings.options.connection_timeout}s (connection_timeout)`)),
      timeoutMs,
    );
    onAbort = () => reject(new Error('the connection attempt was abandoned: the transport is closing'));
    signal?.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([opening, timeout]);
  } catch (error) {
    // Give the attempt up: drop its socket (a broker that never answers would hold it open), and
    // close a connection whose handshake completes anyway.
    attempt.abort();
    opening.then((late) => late.close().catch(() => undefined)).catch(() => undefined);
    throw error;
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}

/** AMQP reply code of a channel or connection error, when it has one (404, 406, 320, ...). */
export function replyCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** True for errors that mean "the channel or connection is gone", after which a retry may succeed. */
export function isClosedError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error instanceof amqplib.IllegalOperationError) return true;
  const code = replyCode(error);
  if (code === 320 || code === 501 || code === 504 || code === 505 || code === 506) return true;
  return /channel (is )?closed|channel ended|connection (is )?closed|closed by server|socket|ECONNRESET|EPIPE/i.test(
    error.message,
  );
}

/**
 * Settle when `emitter` emits 'close', `closing` settles, or `ms` passed. amqplib's
 * close() waits for the broker's close-ok, which never comes if the socket dies
 * meanwhile; shutdown must not hang on that.
 */
function closed(emitter: NodeJS.EventEmitter, closing: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const done = (clean: boolean): void => {
      clearTimeout(timer);
      emitter.off('close', onClose);
      resolve(clean);
    };
    const onClose = (): void => done(true);
    const timer = setTimeout(() => done(false), ms);
    emitter.once('close', onClose);
    closing.then(
      () => done(true),
      () => done(true),
    );
  });
}

/** Close a channel; never waits longer than `ms`. */
export async function closeChannel(channel: Channel, ms = 5000): Promise<void> {
  let closing: Promise<unknown>;
  try {
    closing = channel.close();
  } catch {
    return; // already closed
  }
  await closed(channel, closing, ms);
}

/** Close a connection; if the broker does not confirm within `ms`, drop the socket. */
export async function closeConnection(connection: Connection, ms = 5000): Promise<void> {
  let closing: Promise<unknown>;
  try {
    closing = connection.close();
  } catch {
    return;
  }
  if (!(await closed(connection, closing, ms))) {
    // No close-ok: the broker or the network is gone. Drop the socket so nothing stays open.
    const socket = (connection as unknown as { connection?: { stream?: { destroy?: () => void } } }).connection?.stream;
    socket?.destroy?.();
  }
}
