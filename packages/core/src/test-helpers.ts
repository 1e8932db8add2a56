/** Helpers for core's own unit tests (not built into the package). */
import { PassThrough } from 'node:stream';
import { Api } from './api/api';
import { Event } from './api/event';
import { create, type Bus, type CreateOptions } from './client/bus';
import type { LightbusConfigInput } from './config';
import type { LogFields, Logger } from './log';

export interface LogRecord {
  level: 'debug' | 'info' | 'warn' | 'error';
  message: string;
  fields?: LogFields;
}

export class RecordingLogger implements Logger {
  readonly records: LogRecord[] = [];
  debug(message: string, fields?: LogFields): void {
    this.records.push({ level: 'debug', message, fields });
  }
  info(message: string, fields?: LogFields): void {
    this.records.push({ level: 'info', message, fields });
  }
  warn(message: string, fields?: LogFields): void {
    this.records.push({ level: 'warn', message, fields });
  }
  error(message: string, fields?: LogFields): void {
    this.records.push({ level: 'error', message, fields });
  }
  messages(level?: LogRecord['level']): string[] {
    return this.records.filter((r) => !level || r.level === level).map((r) => r.message);
  }
}

let counter = 0;

/** A config putting every role on a memory broker of its own, so tests never share messages. */
export function memoryConfig(
  broker = `unit-${process.pid}-${++counter}`,
  extra: LightbusConfigInput = {},
): LightbusConfigInput {
  const memory = { memory: { name: broker } };
  return {
    service_name: 'test-service',
    process_name: 'test-process',
    ...extra,
    bus: { ...extra.bus, schema: { transport: memory, ...extra.bus?.schema } },
    apis: {
      ...extra.apis,
      default: { rpc_transport: memory, result_transport: memory, event_transport: memory, ...extra.apis?.default },
    },
  };
}

/**
 * A bus whose undeclared dynamic paths are untyped, for tests of the dynamic
 * path's run-time behaviour (with noUncheckedIndexedAccess, the public Bus type
 * makes undeclared paths `PathNode | undefined`; see BusApis).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type TestBus = Bus & { readonly [segment: string]: any };

/** Buses created by a test, closed after it. */
export function busFactory(): { make(options?: CreateOptions): TestBus; closeAll(): Promise<void> } {
  const buses: Bus[] = [];
  return {
    make(options: CreateOptions = {}) {
      const bus = create({ logger: new RecordingLogger(), ...options });
      buses.push(bus);
      return bus as TestBus;
    },
    async closeAll() {
      await Promise.all(buses.splice(0).map((bus) => bus.close()));
    },
  };
}

/** The API most client and worker tests serve. */
export class SupportCaseApi extends Api {
  static override meta = { name: 'support.case' };
  caseCreated = new Event({ parameters: ['id', 'sender'] });
  caseClosed = new Event({ parameters: ['id'] });

  get({ id }: { id: number }) {
    return { id, subject: `Case ${id}` };
  }
  async slowGet({ id, ms }: { id: number; ms: number }) {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return id;
  }
  nothing() {
    return undefined;
  }
  fail({ message }: { message: string }) {
    throw new TypeError(message);
  }
}

type BusFactory = ReturnType<typeof busFactory>;

/** pair(): a worker bus serving SupportCaseApi and a client bus, on one fresh memory broker. */
export function pairOn(
  buses: BusFactory,
): (extra?: LightbusConfigInput) => Promise<{ worker: TestBus; client: TestBus; config: LightbusConfigInput }> {
  return async (extra = {}) => {
    const config = memoryConfig(undefined, extra);
    const worker = buses.make({ config });
    worker.client.registerApi(new SupportCaseApi());
    await worker.start();
    const client = buses.make({ config: { ...config, process_name: 'client-process' } });
    return { worker, client, config };
  };
}

/** Streams for a command run in-process (cli/format.ts CommandIo): what it printed, and a stdin to answer prompts. */
export function captureIo(tty = false): {
  io: { out: PassThrough; err: PassThrough; input: PassThrough & { isTTY?: boolean } };
  out(): string;
  err(): string;
} {
  const out = new PassThrough();
  const err = new PassThrough();
  const input: PassThrough & { isTTY?: boolean } = new PassThrough();
  if (tty) input.isTTY = true;
  let outText = '';
  let errText = '';
  out.on('data', (chunk: Buffer) => (outText += chunk.toString()));
  err.on('data', (chunk: Buffer) => (errText += chunk.toString()));
  return { io: { out, err, input }, out: () => outText, err: () => errText };
}
