/** `lightbus init [dir]`: a working service in an empty folder, for a chosen transport. */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Command, Option } from 'commander';
import { LightbusError } from '../../errors';
import { version } from '../options';
import { apiNames, apiTs, busTs, clientTs } from '../init/code';
import { lightbusYaml } from '../init/config';
import { gitignore, packageJson, tsconfigJson } from '../init/project';
import { INIT_TRANSPORTS, TRANSPORTS, type InitTransport } from '../init/transports';

export interface InitOptions {
  transport?: InitTransport;
  name?: string;
  force?: boolean;
}

/** A folder's name as a service and package name: lowercase letters, digits, '-' and '_'. */
export function serviceName(dir: string): string {
  const name = path
    .basename(path.resolve(dir))
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^[-_]+|[-_]+$/g, '');
  return name || 'my-service';
}

/** Write the project's files into `dir` (created if missing). Returns the files written, relative to it. */
export function scaffold(dir: string, options: InitOptions = {}): string[] {
  const transport = options.transport ?? 'memory';
  const name = options.name ?? serviceName(dir);
  if (!/^[a-z0-9][a-z0-9_-]*$/.test(name)) {
    throw new LightbusError(
      `--name '${name}' cannot name a service: use lowercase letters, digits, '-' and '_', starting with a letter or digit.`,
    );
  }
  const target = path.resolve(dir);
  if (existsSync(target)) {
    const present = readdirSync(target).filter((f) => f !== '.git');
    if (present.length > 0 && !options.force) {
      throw new LightbusError(
        `${target} is not empty (${present.slice(0, 3).join(', ')}${present.length > 3 ? ', ...' : ''}): ` +
          `lightbus init writes a new project into an empty folder. Name a new folder (lightbus init my-service), ` +
          `or pass --force to overwrite package.json, tsconfig.json, lightbus.yaml, api.ts, bus.ts and client.ts there.`,
      );
    }
  }
  mkdirSync(target, { recursive: true });
  const names = apiNames(name);
  const files: Record<string, string> = {
    'package.json': packageJson(name, transport, version()),
    'tsconfig.json': tsconfigJson(),
    'lightbus.yaml': lightbusYaml(name, transport),
    'api.ts': apiTs(names),
    'bus.ts': busTs(names),
    'client.ts': clientTs(names, transport),
    '.gitignore': gitignore,
  };
  for (const [file, text] of Object.entries(files)) writeFileSync(path.join(target, file), text);
  return Object.keys(files);
}

function nextSteps(dir: string, transport: InitTransport): string {
  const cd = path.resolve(dir) === process.cwd() ? '' : `  cd ${dir}\n`;
  const run =
    transport === 'memory'
      ? '  npm run client        # serves and calls the API in one process (memory transport)\n' +
        '  npm start             # the worker alone: lightbus run --bus bus.ts\n'
      : `  npm start             # the worker (needs the broker: ${TRANSPORTS[transport].broker})\n` +
        '  npm run client        # in another terminal: calls the worker\n';
  return `\nNext:\n${cd}  npm install\n${run}  npm run typecheck     # tsc --noEmit\n`;
}

export function initCommand(): Command {
  return new Command('init')
    .description(
      'Create a new service in an empty folder: package.json, tsconfig, lightbus.yaml, api.ts, bus.ts, client.ts',
    )
    .argument('[dir]', 'the folder to create the service in', '.')
    .addOption(
      new Option('-t, --transport <name>', 'the transport of every role in lightbus.yaml')
        .choices(INIT_TRANSPORTS)
        .default('memory'),
    )
    .option('-n, --name <service>', 'the service name (default: the folder name)')
    .option('-f, --force', 'write into a folder that is not empty, overwriting these files')
    .action((dir: string, options: InitOptions) => {
      const files = scaffold(dir, options);
      const transport = options.transport ?? 'memory';
      process.stdout.write(
        `Created a Lightbus service on the ${transport} transport in ${path.resolve(dir)}: ${files.join(', ')}\n` +
          nextSteps(dir, transport),
      );
    });
}
