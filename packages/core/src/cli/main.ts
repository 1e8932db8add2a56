/** The `lightbus` command. */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { ALL_FEATURES, type Feature } from '../worker/worker';
import { configJsonSchema, setCommandLineOverrides } from '../config';
import { LightbusError, SchemaFileError, UnknownApiError } from '../errors';
import { ConsoleLogger, LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from '../log';
import { memoryTransport } from '../transport/memory';
import { TransportRegistry } from '../transport/registry';
import { create, type Bus } from '../client/bus';
import { readSchemas, writeSchemas } from '../schema/files';
import type { ApiSchema } from '../schema/types';
import { loadBusModule, resolveBusModule, findBusModule } from './load-bus';
import { serveHealth, type HealthServer } from '../health';

function version(): string {
  const pkg = JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

function featureList(value: string): Feature[] {
  const features = value
    .split(',')
    .map((f) => f.trim())
    .filter(Boolean);
  for (const feature of features) {
    if (!ALL_FEATURES.includes(feature as Feature)) {
      throw new InvalidArgumentError(`'${feature}' is not a feature; choose from ${ALL_FEATURES.join(', ')}.`);
    }
  }
  return features as Feature[];
}

function positiveInteger(value: string, option: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${option} must be a whole number of 1 or more.`);
  return n;
}

function portNumber(value: string, option: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError(`${option} must be a port number, 0 to 65535 (0: any free port).`);
  return n;
}

function isoTime(value: string, option: string): Date {
  const date = new Date(value);
  if (Number.isNaN(date.getTime()))
    throw new InvalidArgumentError(`${option} must be an ISO 8601 time, e.g. 2026-11-23T10:00:00Z.`);
  return date;
}

function logLevelOption(): Option {
  return new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).env('LIGHTBUS_LOG_LEVEL');
}

function logFormatOption(): Option {
  return new Option('--log-format <format>', 'log lines as text (for people) or json (for log collectors)')
    .choices(LOG_FORMATS)
    .env('LIGHTBUS_LOG_FORMAT');
}

interface BusOptions {
  bus?: string;
  config?: string;
  serviceName?: string;
  processName?: string;
  logLevel?: LogLevel;
  logFormat?: LogFormat;
}

export interface RunOptions extends BusOptions {
  healthPort?: number;
  healthHost?: string;
  exitOnBrokerDown?: boolean;
  only?: Feature[];
  skip?: Feature[];
  schema?: string;
}

/** Apply the command line's config flags, then load the bus module (required, or only if present). */
async function openBus(options: BusOptions, required: boolean): Promise<Bus> {
  setCommandLineOverrides({
    configFile: options.config,
    serviceName: options.serviceName,
    processName: options.processName,
    logLevel: options.logLevel,
    logFormat: options.logFormat,
  });
  if (required) return loadBusModule(resolveBusModule(options.bus));
  const file = options.bus !== undefined ? resolveBusModule(options.bus) : findBusModule();
  return file ? loadBusModule(file) : create({ logLevel: options.logLevel ?? 'warning' });
}

/** Every schema the bus knows: its own APIs' and those stored on the bus by running workers. */
async function busSchemas(bus: Bus): Promise<Record<string, ApiSchema>> {
  try {
    await bus.client.schemas.load();
    return bus.client.schemas.all();
  } finally {
    await bus.close();
  }
}

/** `lightbus run`: load the bus module, start it, stop on SIGINT/SIGTERM. Resolves with the exit code. */
export async function run(options: RunOptions): Promise<number> {
  const logger = new ConsoleLogger(options.logLevel ?? 'info', options.logFormat ? { format: options.logFormat } : {});
  const features = (options.only ?? [...ALL_FEATURES]).filter((f) => !(options.skip ?? []).includes(f));
  const bus = await openBus(options, true);
  if (options.schema) bus.client.schemas.addFromFiles(readSchemas(options.schema));

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals += 1;
    if (signals > 1) {
      logger.error(`Second ${signal}: exiting at once without finishing work in progress`);
      process.exit(1);
    }
    logger.info(`${signal} received: finishing work in progress, then exiting`);
    void bus.close();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // `npx lightbus run` dies on SIGTERM without passing it on, leaving this worker behind:
  // when the process that started us is gone, drain and exit as if told to.
  const parent = process.ppid;
  const orphanWatch = setInterval(() => {
    if (process.ppid === parent || signals > 0) return;
    signals += 1;
    logger.warn('The process that started this worker has exited: finishing work in progress, then exiting');
    void bus.close();
  }, 1000);
  orphanWatch.unref();
  // A worker runs until told to stop, even when nothing else holds the process open (memory transport).
  const keepAlive = setInterval(() => undefined, 2 ** 30);

  let health: HealthServer | undefined;
  if (options.healthPort !== undefined) {
    const host = options.healthHost ?? '0.0.0.0';
    health = await serveHealth(() => bus.health(), { port: options.healthPort, host });
    logger.info(`Health endpoints: http://${host}:${health.port}/healthz (live) and /readyz (ready)`);
  }
  try {
    await bus.start({ features, waitForBrokers: options.exitOnBrokerDown !== true });
  } catch (error) {
    clearInterval(keepAlive);
    clearInterval(orphanWatch);
    await health?.close();
    logger.error(`Lightbus could not start: ${(error as Error).message}`);
    await bus.close().catch(() => undefined);
    return 1;
  }
  logger.info('Lightbus ready: serving, listening and running tasks (Ctrl-C or SIGTERM to stop)');
  try {
    await bus.waitUntilStopped();
    logger.info('Lightbus stopped');
    return 0;
  } catch (error) {
    logger.error(`Lightbus stopped after an error: ${(error as Error).message}`);
    return 1;
  } finally {
    clearInterval(keepAlive);
    clearInterval(orphanWatch);
    await health?.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

export function buildProgram(): Command {
  const program = new Command('lightbus')
    .description('Lightbus for TypeScript: RPC and events between services')
    .version(version(), '-v, --version')
    .option('--debug', 'on an error, print its stack and causes too')
    .showHelpAfterError();

  program
    .command('run')
    .description('Run a worker: serve the registered APIs, run listeners and background tasks')
    .option('-b, --bus <path>', 'bus module exporting `bus` (default: $LIGHTBUS_MODULE or ./bus)')
    .option('-c, --config <file>', 'config file (default: $LIGHTBUS_CONFIG or ./lightbus.yaml)')
    .option('-s, --service-name <name>', 'service name (consumer groups are <service>-<listener>)')
    .option('-p, --process-name <name>', 'process name, unique within the service')
    .option('-o, --only <features>', `only these features, comma separated: ${ALL_FEATURES.join(',')}`, featureList)
    .option('-k, --skip <features>', 'every feature but these, comma separated', featureList)
    .option(
      '-m, --schema <file|dir>',
      'load API schemas from a file or directory (for validation), as written by dumpschema',
    )
    .addOption(
      new Option('--health-port <port>', 'serve GET /healthz (live) and /readyz (ready) on this port')
        .env('LIGHTBUS_HEALTH_PORT')
        .argParser((v) => portNumber(v, '--health-port')),
    )
    .addOption(
      new Option('--health-host <host>', 'interface for the health endpoints (default 0.0.0.0)').env(
        'LIGHTBUS_HEALTH_HOST',
      ),
    )
    .addOption(
      new Option(
        '--exit-on-broker-down',
        'exit (code 1) when a broker cannot be reached at start, instead of retrying with backoff',
      ).env('LIGHTBUS_EXIT_ON_BROKER_DOWN'),
    )
    .addOption(logLevelOption())
    .addOption(logFormatOption())
    .action(async (options: RunOptions) => {
      process.exitCode = await run(options);
      exitSoon();
    });

  const busOptions = (command: Command): Command =>
    command
      .option('-b, --bus <path>', 'bus module whose registered APIs to include (default: ./bus if present)')
      .option('-c, --config <file>', 'config file (default: $LIGHTBUS_CONFIG or ./lightbus.yaml)')
      .addOption(logLevelOption())
      .addOption(logFormatOption());

  busOptions(
    program
      .command('dumpschema')
      .description("Write the schemas of the bus: this service's APIs and every API stored on the bus")
      .option('-o, --out <file|dir>', 'a file, or a directory for one file per API (default: stdout)'),
  ).action(async (options: BusOptions & { out?: string }) => {
    const bus = await openBus(options, false);
    const humanReadable = bus.client.config.humanReadableSchema;
    const schemas = await busSchemas(bus);
    if (options.out) {
      const files = writeSchemas(schemas, options.out, humanReadable);
      process.stderr.write(`Wrote ${Object.keys(schemas).length} API schema(s) to ${files.join(', ')}\n`);
    } else {
      process.stdout.write(`${JSON.stringify(schemas, null, humanReadable ? 2 : undefined)}\n`);
    }
  });

  busOptions(
    program
      .command('codegen')
      .description('Write TypeScript types and a typed client for every API, from the schemas on the bus or in files')
      .option('-o, --out <file>', 'the .ts file to write (default: stdout)')
      .option('-m, --schema <file|dir>', 'read schemas from a file or directory instead of the bus'),
  ).action(async (options: BusOptions & { out?: string; schema?: string }) => {
    const schemas = options.schema ? readSchemas(options.schema) : await busSchemas(await openBus(options, false));
    if (Object.keys(schemas).length === 0) {
      throw new SchemaFileError(
        options.schema
          ? `No API schemas in '${options.schema}'.`
          : 'No API schemas on the bus: start the workers whose APIs you want (they store their schemas), or pass --schema.',
      );
    }
    const source = options.schema ?? 'the schemas on the bus';
    // Loaded here only: the compiler and formatter behind codegen are heavy and only this command needs them.
    const { generateTypes } = await import('../schema/codegen.js');
    const text = await generateTypes(schemas, { source });
    const untyped = untypedMembers(schemas);
    if (untyped.length > 0) {
      process.stderr.write(
        `Note: ${untyped.length} procedure(s) have no declared types, so their types are unknown: ${untyped.slice(0, 5).join(', ')}` +
          `${untyped.length > 5 ? ', ...' : ''}. A plain class's method types exist only in TypeScript: in TypeScript code, import the ` +
          `class's type and declare it in BusApis (docs/reference/client.md); to share types on the bus (codegen, Python, validation), ` +
          `declare them with procedure({ parameters, response }, fn) (docs/explanation/typed-declarations.md).\n`,
      );
    }
    if (options.out) {
      mkdirSync(path.dirname(path.resolve(options.out)), { recursive: true });
      writeFileSync(options.out, text);
      process.stderr.write(`Wrote types for ${Object.keys(schemas).length} API(s) to ${options.out}\n`);
    } else {
      process.stdout.write(text);
    }
  });

  busOptions(
    program
      .command('inspect')
      .description('Show past events of an API, newest first (where its event transport keeps history)')
      .requiredOption('-a, --api <name>', 'the API')
      .option('-e, --event <name>', 'only this event')
      .option('-n, --limit <n>', 'at most this many events', (v) => positiveInteger(v, '--limit'), 20)
      .option('--since <time>', 'only events at or after this ISO 8601 time', (v) => isoTime(v, '--since'))
      .option('--until <time>', 'only events at or before this ISO 8601 time', (v) => isoTime(v, '--until'))
      .option('-f, --format <format>', 'json (one object per line) or human', 'human'),
  ).action(
    async (
      options: BusOptions & { api: string; event?: string; limit: number; since?: Date; until?: Date; format: string },
    ) => {
      if (options.format !== 'json' && options.format !== 'human') {
        throw new InvalidArgumentError(`--format must be json or human (got '${options.format}').`);
      }
      const bus = await openBus(options, false);
      try {
        await bus.client.schemas.load();
        const known = Object.keys(bus.client.schemas.all()).sort();
        if (!known.includes(options.api)) {
          throw new UnknownApiError(
            `No API '${options.api}' on this bus: neither the bus module registers it nor has a worker stored its schema. ` +
              `Known APIs: ${known.join(', ') || 'none'}. Check the name and --config (the transports it names), or start the API's worker.`,
          );
        }
        const events = bus.client.history({
          apiName: options.api,
          eventName: options.event,
          limit: options.limit,
          start: options.since,
          stop: options.until,
        });
        for await (const event of events) {
          const { id, apiName, eventName, version, kwargs, nativeId, time } = event;
          process.stdout.write(
            options.format === 'json'
              ? `${JSON.stringify({ id, api_name: apiName, event_name: eventName, version, kwargs, native_id: nativeId, time })}\n`
              : `${time?.toISOString() ?? '-'}  ${apiName}.${eventName}  id=${id}${nativeId ? ` native_id=${nativeId}` : ''}\n    ${JSON.stringify(kwargs)}\n`,
          );
        }
      } finally {
        await bus.close();
      }
    },
  );

  program
    .command('dumpconfigschema')
    .description('Print the JSON Schema of the config file (with the options of installed transports)')
    .option('-o, --out <file>', 'write to this file instead of stdout')
    .action((options: { out?: string }) => {
      const registry = new TransportRegistry([memoryTransport]);
      const text = `${JSON.stringify(configJsonSchema(registry.discover()), null, 2)}\n`;
      if (options.out) writeFileSync(options.out, text);
      else process.stdout.write(text);
    });

  program
    .command('version')
    .description('Print the version')
    .action(() => {
      process.stdout.write(`${version()}\n`);
    });

  return program;
}

/**
 * After a worker stops, the process should end by itself. If user code left
 * handles open (servers, timers), say so and exit anyway after a grace period.
 */
function exitSoon(): void {
  setTimeout(() => {
    process.stderr.write('lightbus WARNING handles still open 2s after shutdown; exiting anyway\n');
    process.exit();
  }, 2000).unref();
}

/** Procedures whose schema declares neither parameter properties nor a response type (a plain class's). */
function untypedMembers(schemas: Record<string, ApiSchema>): string[] {
  const out: string[] = [];
  for (const [apiName, schema] of Object.entries(schemas)) {
    for (const [name, rpc] of Object.entries(schema.rpcs ?? {})) {
      const params = rpc.parameters as { properties?: unknown };
      const response = rpc.response as Record<string, unknown>;
      const declaresResponse = Object.keys(response).some(
        (key) => key !== '$schema' && key !== 'title' && key !== 'description',
      );
      if (params.properties === undefined && !declaresResponse) out.push(`${apiName}.${name}()`);
    }
  }
  return out;
}

/**
 * An error as one paragraph: what went wrong and what to do. The stack and
 * causes only with --debug (they are for bug reports, not for users).
 */
export function errorReport(error: unknown, debug: boolean): string {
  if (!(error instanceof Error)) return String(error);
  if (debug) {
    let text = error.stack ?? error.message;
    for (let cause = error.cause; cause instanceof Error; cause = cause.cause)
      text += `\nCaused by: ${cause.stack ?? cause.message}`;
    return text;
  }
  const known = error instanceof LightbusError;
  return `${known ? error.message : `${error.name}: ${error.message}`}${known ? '' : ' (run again with --debug for the stack)'}`;
}

export async function main(argv: readonly string[] = process.argv): Promise<void> {
  try {
    await buildProgram().parseAsync(argv as string[]);
  } catch (error) {
    process.stderr.write(`lightbus ERROR ${errorReport(error, argv.includes('--debug'))}\n`);
    process.exitCode = 1;
  }
}
