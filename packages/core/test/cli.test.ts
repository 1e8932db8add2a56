/**
 * `lightbus run` as users run it: a child process with a bus module, stopped by a
 * signal. Uses the built package (npm test builds first).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startNode, waitFor, type ChildRun } from '@lightbus/testing';

const BIN = path.resolve(__dirname, '..', 'bin', 'lightbus.js');
const FIXTURES = path.join(__dirname, 'fixtures');

function lightbus(args: string[], env: Record<string, string> = {}, cwd = FIXTURES): ChildRun {
  return startNode([BIN, ...args], { env, cwd });
}

describe('lightbus run', () => {
  it('finishes work in progress on SIGTERM and exits 0 by itself', async () => {
    const run = lightbus(['run', '--bus', 'slow-bus.ts'], { WORK_MS: '400' });
    await waitFor(() => run.output().includes('work started'), { timeout: 20000, message: 'the call to start' });
    run.child.kill('SIGTERM');
    const { code, signal } = await run.exit;
    const output = run.output();
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(output).toContain('SIGTERM received');
    expect(output.indexOf('work finished')).toBeGreaterThan(output.indexOf('SIGTERM received'));
    expect(output).toContain('result done');
    expect(output).not.toContain('handles still open');
  });

  it('drains and exits when the process that started it dies without passing SIGTERM on (as npx does)', async () => {
    // A parent that starts the worker with our pipes, prints its pid, then waits: SIGKILL it as npm dies on SIGTERM.
    const parent = startNode(
      [
        '-e',
        `const c = require('node:child_process').spawn(process.execPath, ${JSON.stringify([BIN, 'run', '--bus', 'slow-bus.ts'])}, { stdio: 'inherit', env: { ...process.env, WORK_MS: '800' } }); console.log('worker pid ' + c.pid); setInterval(() => {}, 1000);`,
      ],
      { cwd: FIXTURES },
    );
    await waitFor(() => parent.output().includes('work started'), { timeout: 20000, message: 'the call to start' });
    const pid = Number(/worker pid (\d+)/.exec(parent.output())?.[1]);
    parent.child.kill('SIGKILL');
    const alive = (): boolean => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    await waitFor(() => !alive(), { timeout: 20000, message: `worker ${pid} to exit after its parent died` });
    const output = parent.output();
    expect(output).toContain('The process that started this worker has exited');
    expect(output).toContain('work finished');
    expect(output).toContain('Lightbus stopped');
  });

  it('writes JSON log lines with --log-format json', async () => {
    const run = lightbus(['run', '--bus', 'slow-bus.ts', '--log-format', 'json', '-s', 'json-svc', '-p', 'json-proc']);
    await waitFor(() => run.output().includes('work started'), { timeout: 20000, message: 'the call to start' });
    run.child.kill('SIGTERM');
    expect((await run.exit).code).toBe(0);
    const records = run
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const serving = records.find((r) => r.msg === 'Serving slow');
    expect(serving).toMatchObject({ level: 'info', service: 'json-svc', process: 'json-proc', transport: 'memory' });
    expect(Number.isNaN(Date.parse(String(serving?.time)))).toBe(false);
    expect(records.some((r) => r.msg === 'SIGTERM received: finishing work in progress, then exiting')).toBe(true);
  });

  it('exits 1 with the reason when a listener fails', async () => {
    const run = lightbus(['run', '--bus', 'failing-listener-bus']);
    const { code } = await run.exit;
    expect(code).toBe(1);
    expect(run.output()).toMatch(/Listener 'ship' failed on orders\.placed .*cannot ship order 42/);
  });

  it('honours --only, --service-name and --process-name, and loads JavaScript', async () => {
    const run = lightbus(['run', '--bus', 'features-bus.js', '--only', 'tasks', '-s', 'svc-{pid}', '-p', 'proc-1']);
    const { code } = await run.exit;
    const output = run.output();
    expect(code).toBe(0);
    expect(output).toContain('task ran');
    expect(output).toMatch(/service svc-\d+ process proc-1/);
    expect(output).toContain('rpc LIGHTBUS_RPC_TIMEOUT'); // rpcs were skipped: nobody serves ping
  });

  it('reads the config given with --config and validates it', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'lightbus-cli-'));
    writeFileSync(path.join(dir, 'bad.yaml'), 'apis:\n  default:\n    rpc_timeout: soon\n');
    const run = lightbus(
      ['run', '--bus', path.join(FIXTURES, 'slow-bus.ts'), '--config', path.join(dir, 'bad.yaml')],
      {},
      dir,
    );
    const { code } = await run.exit;
    expect(code).toBe(1);
    expect(run.output()).toContain('apis.default.rpc_timeout: must be number (got "soon")');
  });

  it('says where it looked when there is no bus module', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'lightbus-cli-'));
    const run = lightbus(['run'], {}, dir);
    const { code } = await run.exit;
    expect(code).toBe(1);
    expect(run.output()).toMatch(/No bus module at '.*\/bus' \(from the default; tried \.ts/);
  });

  it('refuses an unknown feature', async () => {
    const run = lightbus(['run', '--only', 'rpcs,emails']);
    const { code } = await run.exit;
    expect(code).not.toBe(0);
    expect(run.output()).toContain("'emails' is not a feature; choose from rpcs, events, tasks.");
  });
});

describe('a script awaiting a call', () => {
  it('stays alive until the call ends with its timeout', async () => {
    const run = startNode(['--import', 'tsx', path.join(FIXTURES, 'await-call.ts')], {
      cwd: FIXTURES,
      env: { LIGHTBUS_CONFIG: '' },
    });
    expect((await run.exit).code).toBe(0);
    expect(run.output()).toContain('call ended: LIGHTBUS_RPC_TIMEOUT');
  });
});

describe('lightbus inspect', () => {
  it('shows past events newest first, filtered by event, as JSON lines', async () => {
    const run = lightbus(['inspect', '--bus', 'history-bus.mts', '--api', 'audit', '--format', 'json']);
    expect((await run.exit).code).toBe(0);
    const events = run
      .output()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { event_name: string; kwargs: { user: string } });
    expect(events.map((e) => `${e.event_name}:${e.kwargs.user}`)).toEqual([
      'loggedOut:ann',
      'loggedIn:bob',
      'loggedIn:ann',
    ]);

    const one = lightbus([
      'inspect',
      '--bus',
      'history-bus.mts',
      '--api',
      'audit',
      '--event',
      'loggedIn',
      '--limit',
      '1',
    ]);
    expect((await one.exit).code).toBe(0);
    expect(one.output()).toMatch(/audit\.loggedIn {2}id=[0-9a-f-]+ native_id=\d+\n {4}\{"user":"bob"\}/);
  });

  it('refuses bad options', async () => {
    const run = lightbus(['inspect', '--api', 'audit', '--limit', '0']);
    expect((await run.exit).code).not.toBe(0);
    expect(run.output()).toContain('--limit must be a whole number of 1 or more.');
  });
});

describe('the command line loads per command', () => {
  it('keeps the REPL of lightbus shell out of what every command loads (a worker never loads it)', async () => {
    const main = path.resolve(__dirname, '..', 'dist', 'cli', 'main.js');
    const run = startNode([
      '-e',
      `require(${JSON.stringify(main)}).buildProgram(); console.log('loaded ' + Object.keys(require.cache).filter((f) => /cli[\\/\\\\]shell/.test(f)).length)`,
    ]);
    expect((await run.exit).code).toBe(0);
    expect(run.output()).toContain('loaded 0');
  });
});

describe('lightbus dumpconfigschema', () => {
  it('writes the config JSON Schema', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'lightbus-cli-'));
    const out = path.join(dir, 'schema.json');
    const run = lightbus(['dumpconfigschema', '--out', out]);
    expect((await run.exit).code).toBe(0);
    const schema = JSON.parse(readFileSync(out, 'utf8')) as { title: string; properties: Record<string, unknown> };
    expect(schema.title).toBe('Lightbus config');
    expect(Object.keys(schema.properties)).toEqual(['service_name', 'process_name', 'bus', 'apis', 'plugins']);
  });
});
