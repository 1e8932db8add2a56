/**
 * Shared by every benchmark: timing helpers and the result table. A benchmark
 * measures Lightbus and the raw client library doing the same work in the same
 * run, and reports the ratio; absolute numbers depend on the machine.
 */
import { performance } from 'node:perf_hooks';

export interface Latency {
  readonly p50: number;
  readonly p99: number;
}

/** Run `fn` `count` times one after another (after `warmup` runs); latency percentiles in ms. */
export async function sequentialLatency(
  fn: () => Promise<unknown>,
  count: number,
  warmup = Math.min(100, count),
): Promise<Latency> {
  for (let i = 0; i < warmup; i++) await fn();
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  const at = (q: number): number => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))]!;
  return { p50: at(0.5), p99: at(0.99) };
}

/** Run `fn` `total` times with `concurrency` in flight; operations per second. */
export async function throughput(
  fn: (i: number) => Promise<unknown>,
  total: number,
  concurrency: number,
): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) await fn(next++);
    }),
  );
  return total / ((performance.now() - t0) / 1000);
}

/**
 * Time from the first send to the last of `total` items handled, with
 * `concurrency` sends in flight (default one after another); items per second.
 */
export async function endToEnd(
  send: (i: number) => Promise<unknown>,
  allHandled: Promise<unknown>,
  total: number,
  concurrency = 1,
): Promise<number> {
  const t0 = performance.now();
  await throughput(send, total, concurrency);
  await allHandled;
  return total / ((performance.now() - t0) / 1000);
}

/** The middle value (the upper one of an even count), for results of several rounds. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Counts things that happen (events handled, replies) and resolves when `count` more have. */
export class Counter {
  private seen = 0;
  private target = Number.POSITIVE_INFINITY;
  private wake: (() => void) | undefined;
  hit = (): void => {
    this.seen += 1;
    if (this.seen >= this.target) this.wake?.();
  };
  after(count: number): Promise<void> {
    this.target = this.seen + count;
    return new Promise((resolve) => (this.wake = resolve));
  }
}

export interface Row {
  readonly metric: string;
  readonly unit: string;
  readonly lightbus: number;
  readonly raw: number;
  /** true for throughput (more is better), false for latency. */
  readonly higherIsBetter: boolean;
}

function format(value: number): string {
  return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
}

/** Print a markdown table: metric, Lightbus, raw client, and Lightbus as a share of raw. */
export function printTable(title: string, rows: readonly Row[]): void {
  const lines = [
    `### ${title}`,
    '',
    '| metric | lightbus | raw client | lightbus / raw |',
    '|---|---:|---:|---:|',
    ...rows.map((r) => {
      const ratio = r.lightbus / r.raw;
      const reading = r.higherIsBetter
        ? `${(ratio * 100).toFixed(0)}% of raw throughput`
        : `${ratio.toFixed(2)}x raw latency`;
      return `| ${r.metric} | ${format(r.lightbus)} ${r.unit} | ${format(r.raw)} ${r.unit} | ${reading} |`;
    }),
    '',
  ];
  console.log(lines.join('\n'));
}
