/**
 * BusMocker: test code that uses a bus without any broker or worker. It swaps
 * the bus's transports for recorders: calls go to the results you mock, fired
 * events are recorded, and you assert on both.
 *
 *   const mocker = new BusMocker(bus);
 *   mocker.mockRpc('support.case.get', ({ id }) => ({ id, subject: 'Hi' }));
 *   await codeUnderTest(bus);
 *   mocker.assertRpcCalled('support.case.get', { times: 1 });
 *   mocker.assertEventFired('support.case.caseCreated', { with: { id: 1 } });
 *   mocker.restore();
 *
 * Strict (`new BusMocker(bus, { strict: true })`): every call must be mocked
 * with mockRpc() and every event fire declared with mockEventFiring(); anything
 * else fails where it happens and again at assertAllMocked()/restore(), so a
 * test fails even when the code under test catches the error.
 */
import { isDeepStrictEqual } from 'node:util';
import { LightbusError, type Bus, type EventMessage, type ResultMessage, type RpcMessage } from '@lightbus/core';
import {
  deferred,
  memoryCapabilities,
  newMessageId,
  type ApiSchema,
  type Deferred,
  type PendingResult,
} from '@lightbus/core/transport';

type RpcResponder = (params: Record<string, unknown>, message: RpcMessage) => unknown;

export class BusMockerError extends LightbusError {
  override readonly code = 'LIGHTBUS_MOCK';
}

function split(path: string): [string, string] {
  const dot = path.lastIndexOf('.');
  if (dot <= 0)
    throw new BusMockerError(`'${path}' must be '<api name>.<procedure or event>', e.g. 'support.case.get'.`);
  return [path.slice(0, dot), path.slice(dot + 1)];
}

export interface CallAssertion {
  /** Exactly this many times (default: at least once). */
  readonly times?: number;
  /** At least one call/event had exactly these parameters. */
  readonly with?: Record<string, unknown>;
}

export interface BusMockerOptions {
  /** Fail on any call not mocked with mockRpc() and any event not declared with mockEventFiring(). Default false. */
  readonly strict?: boolean;
}

export class BusMocker {
  private readonly strict: boolean;
  private readonly allowedEvents = new Set<string>();
  /** Calls and event fires that were not mocked, as 'api.name' (strict mode fails on them). */
  readonly unmocked: string[] = [];
  private readonly responders = new Map<string, RpcResponder>();
  private readonly waiting = new Map<string, Deferred<ResultMessage>>();
  private readonly schemas = new Map<string, ApiSchema>();
  /** Every call made through the bus, in order. */
  readonly rpcCalls: RpcMessage[] = [];
  /** Every event fired through the bus, in order. */
  readonly firedEvents: EventMessage[] = [];

  constructor(
    private readonly bus: Bus<object>,
    options: BusMockerOptions = {},
  ) {
    this.strict = options.strict ?? false;
    bus.client.replaceTransports({
      rpc: {
        callRpc: async (message) => {
          this.rpcCalls.push(message);
          const path = `${message.apiName}.${message.procedureName}`;
          const responder = this.responders.get(path);
          if (!responder) {
            this.unmocked.push(path);
            throw new BusMockerError(
              `${path}() was called but not mocked. Mock it: mocker.mockRpc('${path}', result).`,
            );
          }
          const reply = this.waiting.get(message.id);
          let result: ResultMessage;
          try {
            const value = await responder(message.kwargs, message);
            result = {
              id: newMessageId(),
              rpcMessageId: message.id,
              result: value === undefined ? null : value,
              error: false,
            };
          } catch (error) {
            const err = error instanceof Error ? error : new Error(String(error));
            result = {
              id: newMessageId(),
              rpcMessageId: message.id,
              result: err.message,
              error: true,
              trace: err.stack,
              errorType: err.name,
            };
          }
          reply?.resolve(JSON.parse(JSON.stringify(result)) as ResultMessage);
        },
        consumeRpcs: async () => ({ stop: async () => undefined }),
        close: async () => undefined,
      },
      result: {
        expectResult: async (message): Promise<PendingResult> => {
          const reply = deferred<ResultMessage>();
          this.waiting.set(message.id, reply);
          return {
            returnPath: `mock://${message.id}`,
            result: reply.promise,
            cancel: () => this.waiting.delete(message.id),
          };
        },
        sendResult: async () => undefined,
        close: async () => undefined,
      },
      event: {
        capabilities: memoryCapabilities,
        sendEvent: async (message) => {
          this.firedEvents.push(message);
          const path = `${message.apiName}.${message.eventName}`;
          if (this.strict && !this.allowedEvents.has(path)) {
            this.unmocked.push(path);
            throw new BusMockerError(
              `${path} was fired but not expected (strict mode). Allow it: mocker.mockEventFiring('${path}').`,
            );
          }
        },
        consume: async () => ({ stop: async () => undefined }),
        close: async () => undefined,
      },
      schema: {
        store: async (apiName, schema) => {
          this.schemas.set(apiName, schema);
        },
        load: async () => Object.fromEntries(this.schemas),
        close: async () => undefined,
      },
    });
  }

  /** Answer calls to `api.procedure` with a value, or with what a function returns (or throws). */
  mockRpc(path: string, result: unknown): this {
    split(path);
    this.responders.set(path, typeof result === 'function' ? (result as RpcResponder) : () => result);
    return this;
  }

  /** Make calls to `api.procedure` fail as a remote error would. */
  mockRpcError(path: string, error: Error): this {
    return this.mockRpc(path, () => {
      throw error;
    });
  }

  /** Let `api.event` be fired in strict mode (without strict mode, every event may be fired). */
  mockEventFiring(path: string): this {
    split(path);
    this.allowedEvents.add(path);
    return this;
  }

  /** The 'api.procedure' name of every call so far, in order (repeats included). */
  get rpcNamesCalled(): string[] {
    return this.rpcCalls.map((m) => `${m.apiName}.${m.procedureName}`);
  }

  /** The 'api.event' name of every event fired so far, in order (repeats included). */
  get eventNamesFired(): string[] {
    return this.firedEvents.map((m) => `${m.apiName}.${m.eventName}`);
  }

  /** Fail if any call was not mocked or (strict mode) any event fired without mockEventFiring(). */
  assertAllMocked(): void {
    if (this.unmocked.length === 0) return;
    const names = [...new Set(this.unmocked)];
    throw new BusMockerError(
      `Not mocked: ${names.join(', ')}. Mock calls with mocker.mockRpc('<api>.<procedure>', result)` +
        `${this.strict ? " and allow events with mocker.mockEventFiring('<api>.<event>')" : ''}.`,
    );
  }

  /** Calls to `api.procedure` so far. */
  callsTo(path: string): RpcMessage[] {
    const [api, name] = split(path);
    return this.rpcCalls.filter((m) => m.apiName === api && m.procedureName === name);
  }

  /** Events `api.event` fired so far. */
  eventsFired(path: string): EventMessage[] {
    const [api, name] = split(path);
    return this.firedEvents.filter((m) => m.apiName === api && m.eventName === name);
  }

  assertRpcCalled(path: string, expected: CallAssertion = {}): void {
    this.check('call', path, this.callsTo(path), expected);
  }

  assertRpcNotCalled(path: string): void {
    this.check('call', path, this.callsTo(path), { times: 0 });
  }

  assertEventFired(path: string, expected: CallAssertion = {}): void {
    this.check('event', path, this.eventsFired(path), expected);
  }

  assertEventNotFired(path: string): void {
    this.check('event', path, this.eventsFired(path), { times: 0 });
  }

  /** Give the bus its configured transports back. In strict mode, then fail if anything was not mocked. */
  restore(): void {
    this.bus.client.replaceTransports({});
    if (this.strict) this.assertAllMocked();
  }

  private check(
    kind: 'call' | 'event',
    path: string,
    seen: ReadonlyArray<{ kwargs: Record<string, unknown> }>,
    expected: CallAssertion,
  ): void {
    const noun = kind === 'call' ? `calls to ${path}()` : `${path} events`;
    if (expected.times !== undefined ? seen.length !== expected.times : seen.length === 0) {
      throw new BusMockerError(`Expected ${expected.times ?? 'at least 1'} ${noun}, got ${seen.length}.`);
    }
    if (expected.with && !seen.some((m) => isDeepStrictEqual(m.kwargs, expected.with))) {
      throw new BusMockerError(
        `No ${kind === 'call' ? 'call' : 'event'} ${path} had parameters ${JSON.stringify(expected.with)}; seen: ${seen.map((m) => JSON.stringify(m.kwargs)).join(', ') || 'none'}.`,
      );
    }
  }
}
