// Runs the example with one command: the billing and shop workers as two processes
// (each with telemetry.ts loaded first), waits for the orders to be charged, prints
// billing's Prometheus metrics, then stops both with SIGTERM.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';

// The `lightbus` command of the installed @lightbus/core (dist/index.js -> bin/lightbus.js).
const BIN = path.join(path.dirname(require.resolve('@lightbus/core')), '..', 'bin', 'lightbus.js');
const suffix = `${process.pid}`;

function worker(
  service: string,
  busModule: string,
  prometheusPort: number,
): { child: ChildProcess; output: () => string } {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--import', './telemetry.ts', BIN, 'run', '--bus', busModule],
    {
      cwd: __dirname,
      env: { ...process.env, LIGHTBUS_SERVICE_NAME: `${service}-${suffix}`, PROMETHEUS_PORT: String(prometheusPort) },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  const prefix = (chunk: Buffer): void => {
    output += chunk.toString();
    process.stdout.write(chunk.toString().replace(/^(?=.)/gm, `[${service}] `));
  };
  child.stdout!.on('data', prefix);
  child.stderr!.on('data', prefix);
  return { child, output: () => output };
}

async function until(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function main(): Promise<void> {
  const billingPort = Number(process.env.BILLING_PROMETHEUS_PORT ?? 9464);
  const billing = worker('billing', 'billing.ts', billingPort);
  await until(() => billing.output().includes('Serving billing'), 'billing to serve');
  const shop = worker('shop', 'shop.ts', billingPort + 1);
  try {
    await until(() => shop.output().includes('all orders charged'), 'the orders to be charged');
    const metricsText = await (await fetch(`http://127.0.0.1:${billingPort}/metrics`)).text();
    const lines = metricsText
      .split('\n')
      .filter((line) => /^(rpc_server_call_duration\w*_count|messaging_client_sent_messages_total)/.test(line));
    console.log(`[main] billing's Prometheus metrics (http://127.0.0.1:${billingPort}/metrics):\n${lines.join('\n')}`);
  } finally {
    for (const { child } of [shop, billing]) child.kill('SIGTERM');
    await Promise.all(
      [shop, billing].map(
        ({ child }) =>
          new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve))),
      ),
    );
  }
  console.log('[main] done');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
