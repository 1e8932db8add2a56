// `npm run bench -- soak [--events N] [--chunk N]`: memory over a long run. A Lightbus worker process
// (bench/sides/lightbus.mjs, as in `npm run bench -- redis`) listens while a caller process fires N
// events (default 1,000,000; 64 in flight) through Redis, in chunks (default 50,000). After each
// chunk, handled end to end, it prints the worker's resident set and heap, and the caller's: flat
// figures mean nothing accumulates per event. Uses REDIS_URL (default redis://127.0.0.1:6379/0);
// the worker deletes the stream and keys it made.
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Child, SIDES, machine } from './lib/harness.mjs';

const argv = process.argv.slice(2);
const flag = (name, fallback) => {
  const at = argv.indexOf(name);
  return at >= 0 ? Number(argv[at + 1]) : fallback;
};
const total = flag('--events', 1_000_000);
const chunk = Math.min(total, flag('--chunk', 50_000));
const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const params = { transport: 'redis', config: { url }, api: `soak${randomUUID().slice(0, 8)}.redis` };
const module = path.join(SIDES, 'lightbus.mjs');
const MB = 1024 * 1024;
const mb = (bytes) => (bytes / MB).toFixed(1);

const worker = new Child(module, 'worker', params, { label: 'soak' });
await worker.next('ready');
const caller = new Child(module, 'driver', params, { label: 'soak' });
await caller.next('ready');
const stats = async (child) => (await child.ask({ type: 'stats' }, 'stats')).stats;

const rows = [];
const row = async (events, seconds, rate) => {
  const [w, c] = await Promise.all([stats(worker), stats(caller)]);
  const line = `| ${events.toLocaleString('en-US')} | ${seconds.toFixed(0)} s | ${rate} | ${mb(w.rss)} MB | ${mb(w.heapUsed)} MB | ${mb(c.rss)} MB |`;
  rows.push(line);
  process.stderr.write(`${line}\n`);
};

process.stderr.write(
  `soak: ${total.toLocaleString('en-US')} events through Redis (${url}), 64 in flight, chunks of ${chunk.toLocaleString('en-US')}\n`,
);
const t0 = performance.now();
await row(0, 0, '-');
try {
  for (let done = 0; done < total;) {
    const count = Math.min(chunk, total - done);
    await worker.ask({ type: 'expect', count }, 'expecting');
    const handled = worker.next('handled');
    const c0 = performance.now();
    await caller.ask({ type: 'run', phase: 'fire', count, inFlight: 64 }, 'ran');
    await handled;
    done += count;
    const rate = Math.round(count / ((performance.now() - c0) / 1000)).toLocaleString('en-US');
    await row(done, (performance.now() - t0) / 1000, `${rate} events/s`);
  }
} finally {
  await caller.close();
  await worker.close();
}
console.log(
  [
    `### Soak: ${total.toLocaleString('en-US')} events through Redis, 64 fires in flight`,
    '',
    '| events handled | elapsed | rate of the chunk | worker RSS | worker heap used | caller RSS |',
    '|---:|---:|---:|---:|---:|---:|',
    ...rows,
    '',
    machine(),
    '',
  ].join('\n'),
);
