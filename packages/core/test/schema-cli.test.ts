/**
 * dumpschema, run --schema and codegen as users run them (built package), and
 * generated types compiled by tsc.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { startNode, type ChildRun } from '@lightbus/testing';

const BIN = path.resolve(__dirname, '..', 'bin', 'lightbus.js');
const FIXTURES = path.join(__dirname, 'fixtures');
const TSC = path.resolve(__dirname, '..', '..', '..', 'node_modules', 'typescript', 'bin', 'tsc');

function lightbus(args: string[], env: Record<string, string> = {}): ChildRun {
  return startNode([BIN, ...args], { cwd: FIXTURES, env: { LIGHTBUS_CONFIG: '', ...env } });
}

async function succeed(args: string[]): Promise<string> {
  const run = lightbus(args);
  const { code } = await run.exit;
  if (code !== 0) throw new Error(`lightbus ${args.join(' ')} exited ${code}:\n${run.output()}`);
  return run.output();
}

/** A folder inside the repository, so generated code resolves @lightbus/core like user code does. */
function workspace(): string {
  const dir = path.join(__dirname, `.generated-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  mkdirSync(dir);
  return dir;
}

function typecheck(dir: string): string {
  writeFileSync(
    path.join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        noEmit: true,
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        target: 'ES2022',
        skipLibCheck: true,
        types: ['node'],
      },
      include: ['*.ts'],
    }),
  );
  const result = spawnSync(process.execPath, [TSC, '-p', dir], { encoding: 'utf8' });
  return `${result.stdout}${result.stderr}`.trim();
}

const created: string[] = [];
afterAll(() => created.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

describe('lightbus dumpschema', () => {
  it("writes the bus module's API schemas to stdout, a file, or one file per API", async () => {
    const stdout = await succeed(['dumpschema', '--bus', 'typed-bus.ts']);
    const schemas = JSON.parse(stdout) as Record<
      string,
      { rpcs: Record<string, unknown>; events: Record<string, unknown> }
    >;
    expect(Object.keys(schemas)).toEqual(['shop.catalog']);
    expect(Object.keys(schemas['shop.catalog']!.rpcs).sort()).toEqual(['count', 'product', 'search']);
    expect(Object.keys(schemas['shop.catalog']!.events).sort()).toEqual(['priceChanged', 'restocked']);

    const dir = mkdtempSync(path.join(tmpdir(), 'lightbus-dump-'));
    await succeed(['dumpschema', '--bus', 'typed-bus.ts', '--out', path.join(dir, 'all.json')]);
    expect(JSON.parse(readFileSync(path.join(dir, 'all.json'), 'utf8'))).toEqual(schemas);
    await succeed(['dumpschema', '--bus', 'typed-bus.ts', '--out', `${dir}/per-api/`]);
    expect(readdirSync(path.join(dir, 'per-api'))).toEqual(['shop.catalog.json']);
  });
});

describe('lightbus run --schema', () => {
  it('validates calls against schemas loaded from a file (as Python Lightbus writes them)', async () => {
    const run = lightbus(['run', '--bus', 'typed-bus.ts', '--schema', 'python-schema.json'], { CALL_REMOTE: '1' });
    const { code } = await run.exit;
    expect(code).toBe(0);
    expect(run.output()).toContain(
      `remote call: Invalid parameters for billing.invoices.get(): 'id' must be integer (got "x").`,
    );
  });

  it('says what is wrong with a schema file', async () => {
    const run = lightbus(['run', '--bus', 'typed-bus.ts', '--schema', 'typed-bus.ts']);
    expect((await run.exit).code).toBe(1);
    expect(run.output()).toMatch(/Cannot read schema file '.*typed-bus\.ts'/);
  });
});

describe('lightbus codegen', () => {
  it('writes types for a Python Lightbus schema that compile and catch mistakes', async () => {
    const dir = workspace();
    created.push(dir);
    await succeed(['codegen', '--schema', 'python-schema.json', '--out', path.join(dir, 'bus-types.ts')]);
    const generated = readFileSync(path.join(dir, 'bus-types.ts'), 'utf8');
    expect(generated).toContain('export namespace BillingInvoices');
    expect(generated).toContain("'billing.invoices': BillingInvoices.Client;".replace(/'/g, '"'));
    writeFileSync(
      path.join(dir, 'use.ts'),
      `import lightbus from '@lightbus/core';
import type { LightbusApis } from './bus-types';

export async function use(): Promise<void> {
  const bus = lightbus.create<LightbusApis>();
  const invoice = await bus.billing.invoices.get({ id: 1 });
  const status: 'open' | 'paid' = invoice.status;
  const first: string | undefined = invoice.lines[0]?.sku;
  const note: string | null | undefined = invoice.note;
  const open: number[] = await bus.billing.invoices.list_open();
  await bus.billing.invoices.list_open({ limit: 5 });
  bus.billing.invoices.invoice_paid.listen(({ invoice_id, paid_at }) => {
    const id: number = invoice_id;
    const when: Date = paid_at;
    void id; void when;
  }, { listenerName: 'accounting' });
  void status; void first; void note; void open;
  // @ts-expect-error id must be a number
  await bus.billing.invoices.get({ id: '1' });
  // @ts-expect-error id is required
  await bus.billing.invoices.get({});
  // @ts-expect-error no such procedure in the schema
  await bus.billing.invoices.remove({ id: 1 });
  // @ts-expect-error status is 'open' | 'paid'
  const wrong: 'closed' = invoice.status;
  void wrong;
  await bus.close();
}
`,
    );
    expect(typecheck(dir)).toBe('');
  });

  it("writes types for the bus module's own typed APIs", async () => {
    const dir = workspace();
    created.push(dir);
    await succeed(['codegen', '--bus', 'typed-bus.ts', '--out', path.join(dir, 'bus-types.ts')]);
    writeFileSync(
      path.join(dir, 'use.ts'),
      `import lightbus from '@lightbus/core';
import type { LightbusApis } from './bus-types';

export async function use(): Promise<void> {
  const bus = lightbus.create<LightbusApis>();
  const product = await bus.shop.catalog.product({ sku: 'A1' });
  const added: Date = product.added;
  const found: string[] = await bus.shop.catalog.search();
  await bus.shop.catalog.priceChanged.fire({ sku: 'A1', price: 1, at: new Date() });
  // @ts-expect-error price must be a number
  await bus.shop.catalog.priceChanged.fire({ sku: 'A1', price: 'free', at: new Date() });
  void added; void found;
}
`,
    );
    expect(typecheck(dir)).toBe('');
  });

  it('says so when there are no schemas', async () => {
    const run = lightbus(['codegen'], {});
    const { code } = await run.exit;
    expect(code).toBe(1);
    expect(run.output()).toContain('No API schemas on the bus');
  });
});
