/** What the `lightbus` commands share: argument parsers, the bus and log options, opening the bus. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { ALL_FEATURES, type Feature } from '../worker/worker';
import { setCommandLineOverrides } from '../config';
import { LOG_FORMATS, LOG_LEVELS, type LogFormat, type LogLevel } from '../log';
import { create, type Bus } from '../client/bus';
import type { ApiSchema } from '../schema/types';
import { loadBusModule, resolveBusModule, findBusModule } from './load-bus';

export function version(): string {
  const pkg = JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

export function featureList(value: string): Feature[] {
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

export function positiveInteger(value: string, option: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${option} must be a whole number of 1 or more.`);
  return n;
}

export function portNumber(value: string, option: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError(`${option} must be a port number, 0 to 65535 (0: any free port).`);
  return n;
}

export function isoTime(value: string, option: string): Date {
  const date = new Date(value);
  if (Number.isNaN(date.getTime()))
    throw new InvalidArgumentError(`${option} must be an ISO 8601 time, e.g. 2026-11-23T10:00:00Z.`);
  return date;
}

/** The options every command that opens the bus takes. */
export interface BusOptions {
  bus?: string;
  config?: string;
  serviceName?: string;
  processName?: string;
  logLevel?: LogLevel;
  logFormat?: LogFormat;
}

/**
 * Add --bus, --config, --log-level and --log-format to a command. Each also reads its LIGHTBUS_* variable
 * (the flag wins; LIGHTBUS_MODULE and LIGHTBUS_CONFIG are read where the module and config are found). `required` says whether the command needs a bus module or only uses one if present.
 */
export function withBusOptions(command: Command, required: boolean): Command {
  return command
    .option(
      '-b, --bus <path>',
      required
        ? 'bus module exporting `bus` (default: $LIGHTBUS_MODULE or ./bus)'
        : 'bus module whose registered APIs to include (default: $LIGHTBUS_MODULE or ./bus if present)',
    )
    .option('-c, --config <file>', 'config file (default: $LIGHTBUS_CONFIG or ./lightbus.yaml)')
    .addOption(logLevelOption())
    .addOption(
      new Option('--log-format <format>', 'log lines as text (for people) or json (for log collectors)')
        .choices(LOG_FORMATS)
        .env('LIGHTBUS_LOG_FORMAT'),
    );
}

/** --log-level, also read from LIGHTBUS_LOG_LEVEL. */
export function logLevelOption(): Option {
  return new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).env('LIGHTBUS_LOG_LEVEL');
}

/** Apply the command line's config flags, then load the bus module (required, or only if present). */
export async function openBus(options: BusOptions, required: boolean): Promise<Bus> {
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

/** Every schema the bus knows: its own APIs' and those stored on the bus by running workers. Closes the bus. */
export async function busSchemas(bus: Bus): Promise<Record<string, ApiSchema>> {
  try {
    await bus.client.schemas.load();
    return bus.client.schemas.all();
  } finally {
    await bus.close();
  }
}
