/**
 * `lightbus ui`: the management web UI. It lives in its own package, @lightbus/ui, loaded here
 * only when the command runs (core names no UI in its dependencies); absent, the command says
 * what to install.
 */
import { Command, Option } from 'commander';
import { create, type Bus } from '../../client/bus';
import { importOptional } from '../../util/optional';
import { logLevelOption, portNumber } from '../options';
import type { LogLevel } from '../../log';

interface UiCommandOptions {
  port: number;
  host: string;
  config?: string;
  token?: string;
  logLevel?: LogLevel;
}

/** What core needs of @lightbus/ui (its startUi; the package's own types say more). */
interface UiModule {
  startUi(options: {
    bus: Bus;
    host: string;
    port: number;
    token?: string;
  }): Promise<{ url: string; closed: Promise<void>; close(): Promise<void> }>;
}

export function uiCommand(): Command {
  return new Command('ui')
    .description('Serve the management web UI (needs @lightbus/ui): services, APIs, calls, events, consumer groups')
    .addOption(
      new Option('-p, --port <port>', 'port to listen on (0: any free port)')
        .argParser((v) => portNumber(v, '--port'))
        .default(4000)
        .env('LIGHTBUS_UI_PORT'),
    )
    .addOption(
      new Option('--host <host>', 'address to bind; any other than localhost needs --token')
        .default('127.0.0.1')
        .env('LIGHTBUS_UI_HOST'),
    )
    .option('-c, --config <file>', 'config file (default: $LIGHTBUS_CONFIG or ./lightbus.yaml)')
    .addOption(
      new Option('--token <token>', 'token every request must carry (required to bind beyond localhost)').env(
        'LIGHTBUS_UI_TOKEN',
      ),
    )
    .addOption(logLevelOption())
    .action(ui);
}

async function ui(options: UiCommandOptions): Promise<void> {
  const module = await importOptional<UiModule>('@lightbus/ui', 'lightbus ui');
  const bus = create({
    ...(options.config !== undefined ? { configFile: options.config } : {}),
    serviceName: 'lightbus-ui',
    logLevel: options.logLevel ?? 'warning',
  });
  const server = await module.startUi({
    bus,
    host: options.host,
    port: options.port,
    ...(options.token !== undefined ? { token: options.token } : {}),
  });
  process.stdout.write(`Lightbus UI on ${server.url} (Ctrl-C to stop)\n`);
  const stop = (): void => void server.close();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  await server.closed;
}
