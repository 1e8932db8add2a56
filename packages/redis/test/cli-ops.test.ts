/**
 * The operator commands against Redis, as an operator runs them: a worker (`lightbus run`) whose listener sets
 * poison events aside, and `lightbus deadletters` / `lightbus inspect` as separate processes on the same config.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Api, Event } from '@lightbus/core';
import { startNode, waitFor, type ChildRun } from '@lightbus/testing';
import { startShell } from '../../core/src/cli/shell';
import { REDIS_URL, redisConfig, redisTestKit, uniqueId } from './helpers';

const BIN = path.resolve(__dirname, '..', '..', 'core', 'bin', 'lightbus.js');
const FIXTURE = path.resolve(__dirname, '..', '..', '..', 'test', 'ops-bus.ts');
const { keys, buses } = redisTestKit();
const children: ChildRun[] = [];
/** Each test runs several CLI processes one after another: each starts Node (and tsx), seconds apiece on a loaded machine. */
const SLOW = 180_000;
let api: string;
let service: string;
let dir: string;
let config: string;

beforeEach(() => {
  api = `ops${uniqueId()}.orders`;
  service = `ops-${uniqueId()}`;
  keys.api(api);
  keys.add(`schema:${api}`);
  keys.schemaNames.add(api);
  dir = mkdtempSync(path.join(tmpdir(), 'lightbus-ops-'));
  config = path.join(dir, 'lightbus.json');
  const role = { redis: { url: REDIS_URL } };
  const events = { redis: { url: REDIS_URL, reclaim_interval: 0.3 } };
  writeFileSync(
    config,
    JSON.stringify({
      service_name: service,
      bus: { schema: { transport: role } },
      apis: { default: { rpc_transport: role, result_transport: role, event_transport: events } },
    }),
  );
});

afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.child.exitCode === null && child.child.signalCode === null) {
      child.kill('SIGTERM');
      await child.exit;
    }
  }
});

function lightbus(...args: string[]): ChildRun {
  const run = startNode([BIN, ...args, '--config', config], {
    cwd: dir,
    env: { OPS_API: api, OPS_FIXED_FILE: path.join(dir, 'fixed'), LIGHTBUS_MODULE: '' },
  });
  children.push(run);
  return run;
}

/** Run a command to its end; its output, after checking it exited 0. */
async function output(...args: string[]): Promise<string> {
  const run = lightbus(...args);
  const { code } = await run.exit;
  if (code !== 0) throw new Error(`lightbus ${args.join(' ')} exited ${code}:\n${run.output()}`);
  return run.output();
}

/** The one JSON line a command printed with --json (its log lines, on stderr, are interleaved in output()). */
function jsonLine(text: string): unknown {
  const line = text.split('\n').find((l) => l.startsWith('{"'));
  if (line === undefined) throw new Error(`no JSON line in:\n${text}`);
  return JSON.parse(line);
}

/** A bus of the test's own that fires the API's events. */
function firer() {
  const name = api;
  class OpsApi extends Api {
    static override meta = { name };
    created = new Event({ parameters: ['id', 'poison'] });
  }
  const bus = buses.make(redisConfig({ service: `${service}-firer`, process: 'p' }));
  bus.client.registerApi(new OpsApi());
  return (id: number, poison = false) => bus.client.fireEvent(name, 'created', { id, poison });
}

async function startWorker(): Promise<ChildRun> {
  const worker = lightbus('run', '--bus', FIXTURE);
  await worker.waitForOutput('Lightbus ready');
  return worker;
}

describe('lightbus deadletters on Redis', () => {
  it(
    'lists what a worker set aside, shows it, replays one to the worker and discards the rest with --all',
    async () => {
      const worker = await startWorker();
      const fire = firer();
      for (const id of [1, 2, 3]) await fire(id, true);
      await fire(4);
      await worker.waitForOutput('handled 4');

      let listed: { entries: { id: string; group: string; reason: string; message: { kwargs: { id: number } } }[] };
      await waitFor(
        async () => {
          listed = jsonLine(await output('deadletters', 'list', '--api', api, '--json')) as typeof listed;
          return listed.entries.length === 3;
        },
        { timeout: 60_000, message: 'three dead letters listed' },
      );
      expect(listed!.entries.map((e) => e.message.kwargs.id)).toEqual([1, 2, 3]);
      expect(listed!.entries[0]).toMatchObject({
        group: `${service}-notify`,
        reason: expect.stringContaining('poison 1'),
      });

      const table = await output('deadletters', 'list', '--group', `${service}-notify`, '--limit', '2');
      expect(table).toMatch(
        new RegExp(`^ID +SET ASIDE +EVENT +GROUP +REASON\\n.*${api}\\.created +${service}-notify`, 'm'),
      );
      expect(table).toContain(`More: lightbus deadletters list --group ${service}-notify --limit 2 --cursor`);

      const first = listed!.entries[0]!.id;
      expect(await output('deadletters', 'show', first)).toContain(`"api_name": "${api}"`);

      writeFileSync(path.join(dir, 'fixed'), '');
      const replay = await output('deadletters', 'replay', first);
      expect(replay).toContain(`Replayed 1 dead letter(s) '${first}'.`);
      expect(replay).toMatch(/lightbus deadletters: replayed 1 dead letter\(s\)/); // the log line
      await worker.waitForOutput('handled 1');

      const refused = lightbus('deadletters', 'discard', '--all', '--api', api);
      expect((await refused.exit).code).toBe(1);
      expect(refused.output()).toContain(
        `Discard 2 dead letter(s) matching --api ${api}? Not confirmed: stdin is not a terminal to ask on. Run again with --yes`,
      );
      const discarded = jsonLine(await output('deadletters', 'discard', '--all', '--api', api, '--yes', '--json'));
      expect(discarded).toEqual({ action: 'discard', count: 2, selection: { apiName: api } });
      expect(jsonLine(await output('deadletters', 'list', '--api', api, '--json'))).toEqual({ entries: [] });
      expect(worker.output()).not.toMatch(/handled [23]/);
    },
    SLOW,
  );
});

describe('lightbus inspect on Redis', () => {
  it(
    'finds events by wildcard, --json-path and --id, and follows new ones until SIGINT',
    async () => {
      const worker = await startWorker(); // stores the API's schema, so inspect knows it
      const fire = firer();
      for (const id of [1, 2, 3]) await fire(id);
      await worker.waitForOutput('handled 3');

      const pattern = `${api.split('.')[0]}*`;
      const found = await output('inspect', '--api', pattern, '--event', 'cre*', '--json-path', 'id=2', '-f', 'json');
      const event = jsonLine(found) as { id: string; api_name: string; kwargs: unknown; native_id: string };
      expect(event).toMatchObject({ api_name: api, event_name: 'created', kwargs: { id: 2, poison: false } });
      expect(event.native_id).toMatch(/^\d+-\d+$/);
      expect(await output('inspect', '--api', api, '--id', event.id)).toMatch(
        new RegExp(
          `${api.replace('.', '\\.')}\\.created {2}id=${event.id} native_id=\\S+\\n {4}\\{"id":2,"poison":false\\}`,
        ),
      );

      const follow = lightbus('inspect', '--follow', '--api', pattern, '-f', 'json', '--interval', '100');
      await follow.waitForOutput(`Following the events of ${api} (Ctrl-C to stop)`);
      await fire(4);
      await fire(5, true);
      await follow.waitForOutput('"id":5');
      follow.kill('SIGINT');
      expect(await follow.exit).toEqual({ code: 0, signal: null });
      const ids = follow
        .output()
        .split('\n')
        .filter((line) => line.startsWith('{"'))
        .map((line) => (JSON.parse(line) as { kwargs: { id: number } }).kwargs.id);
      expect(ids).toEqual([4, 5]);
    },
    SLOW,
  );
});

describe('lightbus shell on Redis', () => {
  it(
    "completes the procedures of a worker's API and prints a call's result, in-process and as the command",
    async () => {
      await startWorker();
      const bus = buses.make(redisConfig({ service: `${service}-shell`, process: 'p' }));
      const input = new PassThrough();
      const output = new PassThrough();
      let printed = '';
      output.on('data', (chunk: Buffer) => (printed += chunk.toString()));
      const shell = await startShell(bus, { input, output, terminal: false, historyFile: null });
      try {
        const path = `bus.${api}.`;
        const completed = await new Promise<[string[], string]>((resolve, reject) =>
          (shell.completer as (l: string, cb: (e: Error | null, r?: [string[], string]) => void) => void)(
            path,
            (e, r) => (e ? reject(e) : resolve(r!)),
          ),
        );
        expect(completed).toEqual([[`${path}add`, `${path}created`], path]);
        input.write(`bus.${api}.add({ a: 2, b: 3 })\n`);
        await waitFor(() => /lightbus> 5\n/.test(printed), { message: () => `the result 5 in:\n${printed}` });
      } finally {
        shell.close();
      }

      // The command itself, its stdin a pipe: lines evaluated in turn, ended by .exit.
      const child = spawn(process.execPath, [BIN, 'shell', '--config', config], {
        cwd: dir,
        env: { ...process.env, LIGHTBUS_MODULE: '', LIGHTBUS_SHELL_HISTORY: '' },
      });
      let text = '';
      child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (text += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
      child.stdin.write(`await bus.${api}.add({ a: 20, b: 22 })\n.exit\n`);
      expect(await exited).toBe(0);
      expect(text).toContain('Lightbus shell: `bus` is the bus');
      expect(text).toMatch(/lightbus> 42\n/);
    },
    SLOW,
  );
});
