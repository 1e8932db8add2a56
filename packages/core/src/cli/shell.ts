/**
 * `lightbus shell`: a Node REPL with the bus in scope (`bus`, and `lightbus` for the rest of the
 * package). A promise a line evaluates to is awaited and its result printed (`await` works too);
 * Tab completes bus paths from the schemas (shell-completion.ts); lines are kept in a history file.
 * Loaded only when the command runs: a worker never loads the REPL.
 */
import { homedir } from 'node:os';
import path from 'node:path';
import repl, { type REPLEval, type REPLServer } from 'node:repl';
import type { Bus } from '../client/bus';
import * as lightbus from '../index';
import { completeBusPath } from './shell-completion';

export interface ShellOptions {
  readonly input?: NodeJS.ReadableStream;
  readonly output?: NodeJS.WritableStream;
  /** Treat the streams as a terminal (line editing, Tab, colours). Default: whether the output is a TTY. */
  readonly terminal?: boolean;
  /** The history file; null: none. Default: $LIGHTBUS_SHELL_HISTORY (empty: none), else ~/.lightbus_history. */
  readonly historyFile?: string | null;
}

export function historyFile(env: NodeJS.ProcessEnv = process.env): string | null {
  const given = env.LIGHTBUS_SHELL_HISTORY;
  if (given === '') return null;
  return given ?? path.join(homedir(), '.lightbus_history');
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/** Start the REPL on the bus; resolves once it runs (and its history is read). It does not close the bus. */
export async function startShell(bus: Bus, options: ShellOptions = {}): Promise<REPLServer> {
  const output = options.output ?? process.stdout;
  try {
    await bus.client.schemas.load();
  } catch (error) {
    output.write(
      `(The schemas on the bus could not be read, so Tab knows only this process's APIs: ${String(error)})\n`,
    );
  }
  const apis = Object.keys(bus.client.schemas.all()).sort();
  output.write(
    `Lightbus shell: \`bus\` is the bus (${apis.length} API(s)${apis.length ? `: ${apis.slice(0, 8).join(', ')}${apis.length > 8 ? ', ...' : ''}` : ''}).\n` +
      'Call with bus.<api>.<procedure>({ ... }), fire with bus.<api>.<event>.fire({ ... }); promises are awaited. ' +
      'Tab completes; .exit or Ctrl-D leaves.\n',
  );
  const terminal = options.terminal ?? (output as { isTTY?: boolean }).isTTY === true;
  const server = repl.start({
    prompt: 'lightbus> ',
    input: options.input ?? process.stdin,
    output,
    terminal,
    useColors: terminal,
    breakEvalOnSigint: true,
  });
  Object.assign(server.context, { bus, lightbus });

  // The REPL's own eval (which handles `await`), then a promise's result instead of the promise.
  const evaluate: REPLEval = server.eval;
  (server as { eval: REPLEval }).eval = (command, context, file, callback) =>
    evaluate.call(server, command, context, file, (error, result) => {
      if (error || !isThenable(result)) return callback(error, result);
      result.then(
        (value) => callback(null, value),
        (reason: unknown) => callback(reason instanceof Error ? reason : new Error(String(reason)), undefined),
      );
    });

  const complete = server.completer;
  const completer = (line: string, callback: (error: Error | null, result?: [string[], string]) => void): void => {
    const own = completeBusPath(bus.client.schemas.all(), line);
    if (own) callback(null, own);
    else (complete as (line: string, callback: unknown) => void).call(server, line, callback);
  };
  (server as unknown as { completer: typeof completer }).completer = completer;

  const file = options.historyFile === undefined ? historyFile() : options.historyFile;
  if (file !== null && terminal) {
    await new Promise<void>((resolve) =>
      server.setupHistory(file, (error) => {
        if (error) output.write(`(No history: ${error.message})\n`);
        resolve();
      }),
    );
  }
  return server;
}
