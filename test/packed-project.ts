/**
 * What the tests that install the packed packages into a fresh project share: packing
 * (scripts/pack.mjs; builds run one at a time), a user's shell environment, and running
 * commands in the project as a user would.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';

export const root = path.resolve(__dirname, '..');

/** The environment of a user's shell: none of this repository's npm or Lightbus settings. */
export const userEnv: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([key]) => !/^(npm_|LIGHTBUS_|INIT_CWD$|NODE_OPTIONS$)/i.test(key)),
);

/** Build, then `npm pack` every package into `dir`. */
export function packAll(dir: string): void {
  execFileSync(process.execPath, [path.join(root, 'scripts', 'pack.mjs'), dir], {
    cwd: root,
    env: userEnv,
    stdio: 'ignore',
  });
}

/** The tarball of @lightbus/<name> in `dir`. */
export function tarball(dir: string, name: string): string {
  const file = readdirSync(dir).find((f) => f.startsWith(`lightbus-${name}-`) && f.endsWith('.tgz'));
  if (!file) throw new Error(`No tarball for @lightbus/${name} in ${dir}`);
  return path.join(dir, file);
}

/** Run a shell line in `cwd`; its stdout, or an error with everything it printed. */
export function sh(line: string, cwd: string, env: NodeJS.ProcessEnv = userEnv): string {
  try {
    return execFileSync('sh', ['-c', line], { cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`\`${line}\` failed in ${cwd}:\n${stdout ?? ''}${stderr ?? ''}`);
  }
}

/** npm's flags for installing in tests: its cache first, no audit or funding messages. */
export const NPM_INSTALL_FLAGS = '--prefer-offline --no-audit --no-fund';

export interface Child {
  readonly child: ChildProcess;
  output(): string;
  readonly exit: Promise<number | null>;
}

/** Start a command; `detached` makes it a process group of its own, as in a terminal (see interrupt()). */
export function start(
  command: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv = userEnv,
  detached = false,
): Child {
  const child = spawn(command, args, { cwd, env, detached, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exit };
}

/** Run to the end; its output, or an error with it when the exit code is not 0. */
export async function run(
  command: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv = userEnv,
): Promise<string> {
  const child = start(command, args, cwd, env);
  const code = await child.exit;
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${code}:\n${child.output()}`);
  return child.output();
}

/** Ctrl-C in the terminal: SIGINT to every process of a detached child's group (npm and the script it runs). */
export function interrupt({ child }: Child): void {
  if (child.pid !== undefined && child.exitCode === null) process.kill(-child.pid, 'SIGINT');
}

/** Kill whatever is left of a detached child's group. */
export function killGroup({ child }: Child): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
