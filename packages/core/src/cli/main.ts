/** The `lightbus` command: one file per command under commands/, what they share in options.ts. */
import { Command, CommanderError } from 'commander';
import { LightbusError } from '../errors';
import { version } from './options';
import { runCommand } from './commands/run';
import { codegenCommand, dumpConfigSchemaCommand, dumpSchemaCommand } from './commands/schema';
import { inspectCommand } from './commands/inspect';
import { initCommand } from './commands/init';
import { uiCommand } from './commands/ui';
import { deadLettersCommand } from './commands/deadletters';
import { shellCommand } from './commands/shell';
import { releaseYoungGeneration } from './young-generation';

export { run, type RunOptions } from './commands/run';

export function buildProgram(): Command {
  const program = new Command('lightbus')
    .description('Lightbus for TypeScript: RPC and events between services')
    .version(version(), '-v, --version')
    .option('--debug', 'on an error, print its stack and causes too')
    .showHelpAfterError()
    // Only `run` keeps the young generation held until its bus is ready (see young-generation.ts).
    .hook('preAction', (_program, action) => {
      if (action.name() !== 'run') releaseYoungGeneration();
    });
  for (const command of [
    initCommand(),
    runCommand(),
    dumpSchemaCommand(),
    codegenCommand(),
    inspectCommand(),
    dumpConfigSchemaCommand(),
    uiCommand(),
    deadLettersCommand(),
    shellCommand(),
  ])
    program.addCommand(command.showHelpAfterError());
  program
    .command('version')
    .description('Print the version')
    .action(() => {
      process.stdout.write(`${version()}\n`);
    });
  return program;
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
  // Lightbus's own errors and the command line's (a bad flag) say what to do: no stack to offer.
  const known = error instanceof LightbusError || error instanceof CommanderError;
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
