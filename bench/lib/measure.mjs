// Timing helpers for the driver processes (the caller or firer side of a benchmark).
import { performance } from 'node:perf_hooks';

/** `call` one after another `count` times (after a warm-up); latency p50 and p99 in ms. */
export async function sequential(call, count) {
  for (let i = 0; i < Math.min(100, count); i++) await call(i);
  const samples = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    await call(i);
    samples[i] = performance.now() - t0;
  }
  samples.sort();
  const at = (q) => samples[Math.min(count - 1, Math.floor(q * count))];
  return { p50: at(0.5), p99: at(0.99) };
}

/** `send` `count` times with `inFlight` outstanding at once; operations per second. */
export async function inFlight(send, count, inFlightCount) {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(inFlightCount, count) }, async () => {
      while (next < count) await send(next++);
    }),
  );
  return { perSecond: count / ((performance.now() - t0) / 1000) };
}

/** A promise with its resolve and reject. */
export function deferred() {
  let resolve;
  let reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
