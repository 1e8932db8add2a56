/**
 * Child processes for tests: a worker or consumer in its own process, so a test
 * can SIGKILL it mid-batch or SIGTERM it and watch what it printed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { waitFor } from './wait';

export interface ChildRun {
  readonly child: ChildProcess;
  /** Everything printed so far (stdout and stderr interleaved). */
  output(): string;
  /** Resolves once the output contains `text` (or matches the pattern). */
  waitForOutput(text: string | RegExp, timeout?: number): Promise<void>;
  /** Resolves when the process exits. */
  readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): void;
}

export interface ChildOptions {
  readonly env?: Record<string, string | undefined>;
  readonly cwd?: string;
}

/** Run `node <args...>` (use `--import tsx` in args to run TypeScript). */
export function startNode(args: readonly string[], options: ChildOptions = {}): ChildRun {
  const child = spawn(process.execPath, args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    output: () => output,
    waitForOutput: async (text, timeout = 30_000) => {
      await waitFor(() => (typeof text === 'string' ? output.includes(text) : text.test(output)), {
        timeout,
        message: () => `child output to show ${String(text)}; it printed:\n${output}`,
      });
    },
    exit,
    kill: (signal = 'SIGTERM') => {
      child.kill(signal);
    },
  };
}

/** Run a TypeScript file in a child process through tsx. */
export function startTypeScript(file: string, options: ChildOptions = {}): ChildRun {
  return startNode(['--import', 'tsx', file], options);
}
