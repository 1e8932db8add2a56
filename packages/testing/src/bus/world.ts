/**
 * One bus-level scenario's world: its unique API name and namespace, the
 * config files of its processes, the `lightbus run` workers and client
 * processes it starts, the buses it makes in the test process, the fault
 * proxies it opens; close() ends them all and cleans the namespace.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import lightbus, { type Bus, type LightbusConfigInput } from '@lightbus/core';
import { startNode, type ChildRun } from '../child';
import { LogRecorder } from '../logs';
import { FaultProxy } from '../proxy';
import { waitFor } from '../wait';
import { tierApiClass } from './api';
import type { BusTierNamespace, BusTierTarget } from './target';

/** Unique per test run (parallel jest workers, other machines' runs on a shared broker). */
const RUN = `${randomBytes(3).toString('hex')}${process.pid.toString(36)}`;
let sequence = 0;

/** The `lightbus` command of the @lightbus/core this process loads. */
function lightbusBin(): string {
  let dir = path.dirname(require.resolve('@lightbus/core'));
  for (;;) {
    const bin = path.join(dir, 'bin', 'lightbus.js');
    if (existsSync(bin)) return bin;
    const up = path.dirname(dir);
    if (up === dir)
      throw new Error(`No bin/lightbus.js above ${require.resolve('@lightbus/core')}: is @lightbus/core installed?`);
    dir = up;
  }
}

/** A fixture of this folder, in the form this module runs as (TypeScript from source, JavaScript when built). */
function fixture(name: string): string {
  return path.join(__dirname, 'fixtures', `${name}${path.extname(__filename)}`);
}

/** A process of the scenario; what it printed on stdout as `tier: <line>`, apart from its logs. */
export class ScenarioProcess {
  private stdout = '';

  constructor(
    readonly name: string,
    readonly run: ChildRun,
    private readonly patience: number,
  ) {
    run.child.stdout!.on('data', (chunk: Buffer) => (this.stdout += chunk.toString()));
  }

  /** The `tier: ` lines printed so far, without the prefix. */
  get lines(): string[] {
    return this.stdout
      .split('\n')
      .filter((line) => line.startsWith('tier: '))
      .map((line) => line.slice('tier: '.length));
  }

  /** The `i` of every `<word> <i>` line (`handled`, `started`), in order. */
  numbers(word: string): number[] {
    return this.lines.filter((line) => line.startsWith(`${word} `)).map((line) => Number(line.slice(word.length + 1)));
  }

  async waitForLine(line: string, timeout = this.patience): Promise<void> {
    await waitFor(() => this.lines.includes(line), {
      timeout,
      message: () => `${this.name} to print 'tier: ${line}'; it printed:\n${this.run.output()}`,
    });
  }

  /** Resolves once the worker listens for the scenario's event (its consumer joined). */
  async ready(apiName: string): Promise<void> {
    await this.run.waitForOutput(`Listening for ${apiName}.tick`, this.patience * 2);
  }

  get running(): boolean {
    return this.run.child.exitCode === null && this.run.child.signalCode === null;
  }
}

export class World {
  readonly apiName: string;
  readonly service: string;
  /** Log lines of the test process's buses, kept for failure messages. */
  readonly logs = new LogRecorder();
  private readonly dir = mkdtempSync(path.join(tmpdir(), 'lightbus-tier-'));
  private readonly processes: ScenarioProcess[] = [];
  private readonly buses: Bus[] = [];
  private readonly proxies: FaultProxy[] = [];
  private readonly closers: Array<() => Promise<unknown> | undefined> = [];

  private constructor(
    readonly target: BusTierTarget,
    readonly namespace: BusTierNamespace,
    apiName: string,
  ) {
    this.apiName = apiName;
    this.service = `tier-${apiName.split('.')[0]!}`;
  }

  static async open(target: BusTierTarget): Promise<World> {
    sequence += 1;
    const apiName = `tier${RUN}n${sequence}.work`;
    return new World(target, await target.namespace(apiName), apiName);
  }

  get patience(): number {
    return this.target.patience ?? 15_000;
  }

  /** The scenario API class (to register where the scenario fires). */
  apiClass(hooks?: Parameters<typeof tierApiClass>[1]): ReturnType<typeof tierApiClass> {
    return tierApiClass(this.apiName, hooks);
  }

  /** The config of one process: the namespace's, with the scenario's service and `extra` defaults for every API. */
  config(
    processName: string,
    config = this.namespace.config(),
    extra: Record<string, unknown> = {},
  ): LightbusConfigInput {
    const apis = (config.apis ?? {}) as Record<string, Record<string, unknown>>;
    return {
      ...config,
      service_name: this.service,
      process_name: processName,
      apis: { ...apis, default: { ...apis.default, ...extra } },
    } as LightbusConfigInput;
  }

  /** A bus in the test process, closed with the world. */
  bus(processName: string, config = this.config(processName)): Bus {
    const bus = lightbus.create({ config, logger: this.logs, transports: this.target.transports });
    this.buses.push(bus);
    return bus;
  }

  private configFile(processName: string): string {
    const file = path.join(this.dir, `${processName}.json`);
    writeFileSync(file, JSON.stringify(this.config(processName), null, 2));
    return file;
  }

  /** `lightbus run` of the worker fixture: serves the scenario API and listens to `tick` (listener `tally`). */
  worker(processName: string, options: { handlerMs?: number } = {}): ScenarioProcess {
    const config = this.configFile(processName);
    const run = startNode([lightbusBin(), 'run', '--bus', fixture('worker'), '--config', config], {
      env: { LIGHTBUS_TIER_API: this.apiName, LIGHTBUS_TIER_HANDLER_MS: String(options.handlerMs ?? 0) },
    });
    return this.keep(new ScenarioProcess(`worker ${processName}`, run, this.patience));
  }

  /** The client fixture in its own process: calls `echo`, fires `tick` { i: 1 }, exits. */
  client(processName: string): ScenarioProcess {
    const env = { LIGHTBUS_TIER_API: this.apiName, LIGHTBUS_CONFIG: this.configFile(processName) };
    const file = fixture('client');
    const args = file.endsWith('.ts') ? ['--import', 'tsx', file] : [file];
    return this.keep(new ScenarioProcess(`client ${processName}`, startNode(args, { env }), this.patience));
  }

  /** A path in the world's own folder (removed with it). */
  file(name: string): string {
    return path.join(this.dir, name);
  }

  /** Node arguments that load the OpenTelemetry fixture first (appending spans to LIGHTBUS_TIER_SPANS), then `args`. */
  private traced(args: readonly string[]): string[] {
    const otel = fixture('otel');
    return otel.endsWith('.ts') ? ['--import', 'tsx', '--import', otel, ...args] : ['--import', otel, ...args];
  }

  /** `lightbus run` of the tracing worker (serves `place`, which fires `placed`), with an SDK writing spans to `spansFile`. */
  tracedWorker(processName: string, spansFile: string): ScenarioProcess {
    const config = this.configFile(processName);
    const run = startNode(this.traced([lightbusBin(), 'run', '--bus', fixture('traced-worker'), '--config', config]), {
      env: { LIGHTBUS_TIER_API: this.apiName, LIGHTBUS_TIER_SPANS: spansFile, LIGHTBUS_TIER_PROCESS: processName },
    });
    return this.keep(new ScenarioProcess(`worker ${processName}`, run, this.patience));
  }

  /** The tracing client in its own process (listens to `placed`, calls `place`), with an SDK writing spans to `spansFile`. */
  tracedClient(processName: string, spansFile: string): ScenarioProcess {
    const env = {
      LIGHTBUS_TIER_API: this.apiName,
      LIGHTBUS_CONFIG: this.configFile(processName),
      LIGHTBUS_TIER_SPANS: spansFile,
      LIGHTBUS_TIER_PROCESS: processName,
    };
    return this.keep(
      new ScenarioProcess(
        `client ${processName}`,
        startNode(this.traced([fixture('traced-client')]), { env }),
        this.patience,
      ),
    );
  }

  /** A fault proxy in front of the namespace's broker, stopped with the world. */
  async proxy(): Promise<FaultProxy> {
    const broker = this.target.broker;
    if (!broker) throw new Error(`${this.target.name}: the target gives no broker address to proxy`);
    const proxy = await FaultProxy.start(broker);
    this.proxies.push(proxy);
    return proxy;
  }

  /** Run `close` once the world's processes and buses are closed. */
  onClose(close: () => Promise<unknown> | undefined): void {
    this.closers.push(close);
  }

  private keep(process: ScenarioProcess): ScenarioProcess {
    this.processes.push(process);
    return process;
  }

  async close(): Promise<void> {
    for (const proxy of this.proxies) proxy.restore();
    const running = this.processes.filter((p) => p.running);
    for (const p of running) p.run.kill('SIGKILL');
    await Promise.all(running.map((p) => p.run.exit));
    await Promise.all(this.buses.splice(0).map((bus) => bus.close().catch(() => undefined)));
    await Promise.all(this.proxies.splice(0).map((proxy) => proxy.stop()));
    for (const close of this.closers.splice(0)) await close();
    await this.namespace.cleanup();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
