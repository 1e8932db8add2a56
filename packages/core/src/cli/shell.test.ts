/** `lightbus shell` through the REPL's streams, on a memory bus that serves its API in-process. */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import type { REPLServer } from 'node:repl';
import { waitFor } from '@lightbus/testing';
import { busFactory, memoryConfig, SupportCaseApi } from '../test-helpers';
import { historyFile, startShell } from './shell';

const buses = busFactory();
const shells: REPLServer[] = [];
afterEach(async () => {
  for (const shell of shells.splice(0)) shell.close();
  await buses.closeAll();
});

async function shellOnWorker(options: { terminal?: boolean; historyFile?: string | null } = {}) {
  const bus = buses.make({ config: memoryConfig() });
  bus.client.registerApi(new SupportCaseApi());
  await bus.start();
  const input = new PassThrough();
  const output = new PassThrough();
  let printed = '';
  output.on('data', (chunk: Buffer) => (printed += chunk.toString()));
  const shell = await startShell(bus, { input, output, terminal: false, historyFile: null, ...options });
  shells.push(shell);
  const complete = (line: string) =>
    new Promise<[string[], string]>((resolve, reject) =>
      (shell.completer as (l: string, cb: (e: Error | null, r?: [string[], string]) => void) => void)(line, (e, r) =>
        e ? reject(e) : resolve(r!),
      ),
    );
  return { bus, shell, input, output: () => printed, complete };
}

describe('lightbus shell', () => {
  it('completes API paths, procedures and events from the schemas', async () => {
    const { complete, output } = await shellOnWorker();
    expect(output()).toContain('Lightbus shell: `bus` is the bus (1 API(s): support.case).');
    expect(await complete('bus.sup')).toEqual([['bus.support'], 'bus.sup']);
    const [members] = await complete('x = bus.support.case.');
    expect(members).toEqual(expect.arrayContaining(['bus.support.case.get', 'bus.support.case.caseCreated']));
    expect(await complete('await bus.support.case.s')).toEqual([['bus.support.case.slowGet'], 'bus.support.case.s']);
    expect(await complete('bus.support.case.caseCreated.')).toEqual([
      ['bus.support.case.caseCreated.fire', 'bus.support.case.caseCreated.listen'],
      'bus.support.case.caseCreated.',
    ]);
    expect((await complete('bus.'))[0]).toEqual(expect.arrayContaining(['bus.client', 'bus.support', 'bus.close']));
    // bus.client is an ordinary object: the REPL's own completion.
    expect((await complete('bus.client.sche'))[0]).toContain('bus.client.schemas');
  });

  it('prints the result of a call, awaited with or without await, and a remote error', async () => {
    const { input, output } = await shellOnWorker();
    input.write('bus.support.case.get({ id: 7 })\n');
    await waitFor(() => output().includes("subject: 'Case 7'"), {
      timeout: 3000,
      message: () => `the call result in ${output()}`,
    });
    input.write('const r = await bus.support.case.get({ id: 8 }); r.subject\n');
    await waitFor(() => output().includes("'Case 8'"), { timeout: 5000, message: 'the awaited result' });
    input.write("bus.support.case.fail({ message: 'it broke' })\n");
    await waitFor(() => output().includes('it broke'), { timeout: 5000, message: 'the remote error' });
    input.write('typeof lightbus.create\n');
    await waitFor(() => output().includes("'function'"), { timeout: 5000, message: 'lightbus in scope' });
  });

  it('keeps a history file on a terminal, named by LIGHTBUS_SHELL_HISTORY', async () => {
    expect(historyFile({ LIGHTBUS_SHELL_HISTORY: '/tmp/h' })).toBe('/tmp/h');
    expect(historyFile({ LIGHTBUS_SHELL_HISTORY: '' })).toBeNull();
    expect(historyFile({})).toMatch(/\.lightbus_history$/);
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'lightbus-shell-')), 'history');
    const { input, shell } = await shellOnWorker({ terminal: true, historyFile: file });
    input.write('1 + 41\r');
    await waitFor(() => readFileSync(file, 'utf8').includes('1 + 41'), { timeout: 5000, message: 'the history file' });
    shell.close();
  });
});
