/** `lightbus shell`: a REPL with the bus. The REPL itself (cli/shell.ts) is loaded only when this command runs. */
import { Command } from 'commander';
import { openBus, withBusOptions, type BusOptions } from '../options';
import { exitSoon } from '../exit';

export function shellCommand(): Command {
  const command = new Command('shell').description(
    'A Node REPL with the bus in scope (`bus`, `lightbus`): call procedures, fire events, with Tab completion',
  );
  return withBusOptions(command, false).action(async (options: BusOptions) => {
    const bus = await openBus({ logLevel: 'warning', ...options }, false);
    try {
      const { startShell } = await import('../shell.js');
      const server = await startShell(bus);
      await new Promise<void>((resolve) => server.once('exit', resolve));
    } finally {
      await bus.close();
    }
    exitSoon();
  });
}
