/** `lightbus run`: the worker process. */
import { Command, Option } from 'commander';
import { ALL_FEATURES, type Feature } from '../../worker/worker';
import { ConsoleLogger } from '../../log';
import { readSchemas } from '../../schema/files';
import { serveHealth, type HealthServer } from '../../health';
import { featureList, openBus, portNumber, withBusOptions, type BusOptions } from '../options';
import { exitSoon } from '../exit';
import { releaseYoungGeneration } from '../young-generation';

export interface RunOptions extends BusOptions {
  healthPort?: number;
  healthHost?: string;
  exitOnBrokerDown?: boolean;
  only?: Feature[];
  skip?: Feature[];
  schema?: string;
}

/** Load the bus module, start it, stop on SIGINT/SIGTERM. Resolves with the exit code. */
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
    releaseYoungGeneration();
    clearInterval(keepAlive);
    clearInterval(orphanWatch);
    await health?.close();
    logger.error(`Lightbus could not start: ${(error as Error).message}`);
    await bus.close().catch(() => undefined);
    return 1;
  }
  releaseYoungGeneration();
  logger.info('Lightbus ready: serving, listening and running tasks (Ctrl-C or SIGTERM to stop)');
  try {
    await bus.waitUntilStopped();
    logger.info('Lightbus stopped');
    return 0;
  } catch (error) {
    logger.error(`Lightbus stopped after an error: ${(error as Error).message}`);
    return 1;
  } finally {
    releaseYoungGeneration();
    clearInterval(keepAlive);
    clearInterval(orphanWatch);
    await health?.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

export function runCommand(): Command {
  const command = new Command('run')
    .description('Run a worker: serve the registered APIs, run listeners and background tasks')
    // LIGHTBUS_SERVICE_NAME / LIGHTBUS_PROCESS_NAME are read by the config, below its own names (see the docs).
    .option('-s, --service-name <name>', 'service name (consumer groups are <service>-<listener>)')
    .option('-p, --process-name <name>', 'process name, unique within the service')
    .addOption(
      new Option('-o, --only <features>', `only these features, comma separated: ${ALL_FEATURES.join(',')}`)
        .env('LIGHTBUS_ONLY')
        .argParser(featureList),
    )
    .addOption(
      new Option('-k, --skip <features>', 'every feature but these, comma separated')
        .env('LIGHTBUS_SKIP')
        .argParser(featureList),
    )
    .addOption(
      new Option(
        '-m, --schema <file|dir>',
        'load API schemas from a file or directory (for validation), as written by dumpschema',
      ).env('LIGHTBUS_SCHEMA'),
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
    );
  return withBusOptions(command, true).action(async (options: RunOptions) => {
    process.exitCode = await run(options);
    exitSoon();
  });
}
