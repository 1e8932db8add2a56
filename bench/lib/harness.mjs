// The benchmark harness: every side (Lightbus, Lightbus with the OpenTelemetry SDK, the raw
// client) runs as users run it, a worker process and a caller process, started here with an IPC
// channel (bench/lib/child.mjs). Rounds interleave the sides, rotating who goes first; each
// figure is the median over rounds with its spread (min-max). Each process reports its CPU time
// per message (process.cpuUsage over the measured phase) and its resident memory.
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const CHILD = path.join(here, 'child.mjs');
export const SIDES = path.join(here, '..', 'sides');

/**
 * Command-line flags: --quick, --rounds N, --profile DIR (node --cpu-prof for every child),
 * --only=raw,lightbus,otel (sides), --phases=rpcSeq,rpc64,events.
 */
export function parseArgs(argv = process.argv.slice(2)) {
  const quick = argv.includes('--quick') || process.env.BENCH_QUICK === '1';
  const roundsAt = argv.indexOf('--rounds');
  const profileAt = argv.indexOf('--profile');
  return {
    quick,
    rounds: roundsAt >= 0 ? Number(argv[roundsAt + 1]) : Number(process.env.BENCH_ROUNDS ?? (quick ? 3 : 5)),
    profile: profileAt >= 0 ? path.resolve(argv[profileAt + 1] ?? 'profiles') : undefined,
    only: argv.find((a) => a.startsWith('--only='))?.slice('--only='.length),
    phases: argv.find((a) => a.startsWith('--phases='))?.slice('--phases='.length),
  };
}

export class Child {
  constructor(module, role, params, options) {
    const execArgv = options.profile
      ? [
          '--cpu-prof',
          '--cpu-prof-dir',
          options.profile,
          '--cpu-prof-name',
          `${options.label}-${role}-${Date.now()}.cpuprofile`,
        ]
      : [];
    this.name = `${options.label} ${role}`;
    this.process = fork(CHILD, [module, role], {
      env: { ...process.env, BENCH_PARAMS: JSON.stringify(params) },
      execArgv,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.waiters = [];
    this.exited = new Promise((resolve) =>
      this.process.on('exit', (code, signal) => {
        for (const w of this.waiters)
          w.reject(new Error(`${this.name} exited (${code ?? signal}) while ${w.type} was awaited`));
        resolve(code);
      }),
    );
    this.process.on('message', (message) => {
      const at = this.waiters.findIndex((w) => w.type === message.type);
      if (at < 0) return;
      const [waiter] = this.waiters.splice(at, 1);
      waiter.resolve(message);
    });
  }

  next(type) {
    return new Promise((resolve, reject) => this.waiters.push({ type, resolve, reject }));
  }

  async ask(message, reply) {
    const answer = this.next(reply);
    this.process.send(message);
    return answer;
  }

  async close() {
    if (this.process.exitCode !== null) return;
    this.process.send({ type: 'close' });
    await this.exited;
  }
}

const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One side, one round: start its worker, measure it idle, start its caller, run each phase
 * (a warm-up, then the measured run) and collect the figures.
 */
async function runSide(side, phases, options) {
  const api = `bench${randomUUID().slice(0, 8)}.${side.key.replace(/[^a-z]/g, '')}`;
  const label = `${options.transport}-${side.key}`;
  const worker = new Child(path.join(SIDES, side.module), 'worker', { ...side.params, api }, { ...options, label });
  const ready = await worker.next('ready');
  await delay(options.quick ? 500 : 1500);
  const idle = (await worker.ask({ type: 'stats' }, 'stats')).stats;
  const driver = new Child(path.join(SIDES, side.module), 'driver', { ...side.params, api }, { ...options, label });
  await driver.next('ready');
  const figures = { idleRss: idle.rss, startRss: ready.stats.rss, phases: {} };
  try {
    for (const phase of phases) {
      await runPhase(worker, driver, phase, phase.warmup);
      figures.phases[phase.key] = await runPhase(worker, driver, phase, phase.count);
    }
    figures.peakRss = (await worker.ask({ type: 'stats' }, 'stats')).stats.maxRss;
    figures.callerPeakRss = (await driver.ask({ type: 'stats' }, 'stats')).stats.maxRss;
  } finally {
    await driver.close();
    await worker.close();
  }
  return figures;
}

async function runPhase(worker, driver, phase, count) {
  await Promise.all([worker.ask({ type: 'mark' }, 'marked'), driver.ask({ type: 'mark' }, 'marked')]);
  const events = phase.run === 'fire';
  if (events) await worker.ask({ type: 'expect', count }, 'expecting');
  const handled = events ? worker.next('handled') : undefined;
  const t0 = performance.now();
  const ran = await driver.ask({ type: 'run', phase: phase.run, count, inFlight: phase.inFlight }, 'ran');
  await handled;
  const seconds = (performance.now() - t0) / 1000;
  const [w, d] = await Promise.all([worker.ask({ type: 'stats' }, 'stats'), driver.ask({ type: 'stats' }, 'stats')]);
  const result = ran.result ?? {};
  return {
    p50: result.p50,
    p99: result.p99,
    perSecond: events ? count / seconds : (result.perSecond ?? count / seconds),
    workerCpu: w.stats.cpuMicros / count,
    driverCpu: d.stats.cpuMicros / count,
  };
}

/** Run every side `rounds` times, interleaved; figures[sideKey] is a list of rounds. */
export async function runRounds(sides, phases, options) {
  const figures = Object.fromEntries(sides.map((s) => [s.key, []]));
  for (let round = 0; round < options.rounds; round++) {
    const order = sides.map((_, i) => sides[(i + round) % sides.length]);
    for (const side of order) {
      process.stderr.write(`round ${round + 1}/${options.rounds}: ${side.key}... `);
      const t0 = performance.now();
      figures[side.key].push(await runSide(side, phases, options));
      process.stderr.write(`${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
    }
  }
  return figures;
}

// ---- reporting --------------------------------------------------------------------------------

const sorted = (values) => [...values].filter((v) => v !== undefined).sort((a, b) => a - b);
export const median = (values) => {
  const s = sorted(values);
  return s.length ? s[Math.floor(s.length / 2)] : undefined;
};

function fmt(value) {
  if (value === undefined) return '-';
  return value >= 100 ? Math.round(value).toLocaleString('en-US') : value >= 10 ? value.toFixed(1) : value.toFixed(2);
}

/** "median unit (min-max)" over rounds. */
export function cell(values, unit) {
  const s = sorted(values);
  if (!s.length) return '-';
  const spread = s.length > 1 ? ` (${fmt(s[0])}–${fmt(s[s.length - 1])})` : '';
  return `${fmt(median(s))} ${unit}${spread}`;
}

const MB = 1024 * 1024;

/** One figure of every round of a side: pick(roundFigures). */
export const series = (figures, pick) => figures.map(pick);

/**
 * Rows: { label, unit, lightbus, raw (lists over rounds), higherIsBetter, target?: { ratio?, max? } }.
 * The ratio column reads as the targets do: throughput lightbus/raw, latency lightbus/raw.
 */
export function table(title, columns, rows) {
  const lines = [
    `### ${title}`,
    '',
    `| work | ${columns.join(' | ')} | ratio | target |`,
    `|---|${columns.map(() => '---:').join('|')}|---:|---|`,
  ];
  for (const row of rows) {
    const cells = row.values.map((v) => cell(v, row.unit));
    const a = median(row.values[0]);
    const b = median(row.values[1]);
    const ratio = a !== undefined && b !== undefined && b > 0 ? a / b : undefined;
    const ratioText = ratio === undefined ? '' : `${ratio.toFixed(2)}×`;
    let target = '';
    if (row.target) {
      const met = row.target.check(ratio, a);
      target = `${row.target.text} ${met ? '✓' : '✗'}`;
    }
    lines.push(`| ${row.label} | ${cells.join(' | ')} | ${ratioText} | ${target} |`);
  }
  lines.push('');
  return lines.join('\n');
}

export const mb = (bytes) => (bytes === undefined ? undefined : bytes / MB);

export function machine() {
  const load = os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
  return `${os.cpus().length} cores (${os.cpus()[0]?.model.trim() ?? '?'}), Node ${process.version}, load average ${load}, ${new Date().toISOString().slice(0, 16)}Z`;
}

/** The standard rows of a transport's table, built from the figures of its sides. */
export function standardRows(figures, sideA, sideB, phases, targets = {}) {
  const rows = [];
  const pick = (side, fn) => series(figures[side], fn);
  for (const phase of phases) {
    const p = (side, field) => pick(side, (f) => f.phases[phase.key]?.[field]);
    if (phase.run === 'rpcSequential') {
      rows.push({
        label: `${phase.label} p50`,
        unit: 'ms',
        values: [p(sideA, 'p50'), p(sideB, 'p50')],
        target: targets[`${phase.key}.p50`],
      });
      rows.push({ label: `${phase.label} p99`, unit: 'ms', values: [p(sideA, 'p99'), p(sideB, 'p99')] });
    } else {
      rows.push({
        label: phase.label,
        unit: phase.unit,
        values: [p(sideA, 'perSecond'), p(sideB, 'perSecond')],
        target: targets[phase.key],
      });
    }
    rows.push({
      label: `↳ worker CPU per ${phase.per}`,
      unit: 'µs',
      values: [p(sideA, 'workerCpu'), p(sideB, 'workerCpu')],
    });
    rows.push({
      label: `↳ ${phase.driver} CPU per ${phase.per}`,
      unit: 'µs',
      values: [p(sideA, 'driverCpu'), p(sideB, 'driverCpu')],
    });
  }
  rows.push({
    label: 'worker RSS, idle after start',
    unit: 'MB',
    values: [pick(sideA, (f) => mb(f.idleRss)), pick(sideB, (f) => mb(f.idleRss))],
    target: targets.idleRss,
  });
  rows.push({
    label: 'worker RSS, peak',
    unit: 'MB',
    values: [pick(sideA, (f) => mb(f.peakRss)), pick(sideB, (f) => mb(f.peakRss))],
    target: targets.peakRss,
  });
  rows.push({
    label: 'caller RSS, peak',
    unit: 'MB',
    values: [pick(sideA, (f) => mb(f.callerPeakRss)), pick(sideB, (f) => mb(f.callerPeakRss))],
  });
  return rows;
}

export const atLeast = (ratio) => ({ text: `≥ ${ratio}×`, check: (r) => r !== undefined && r >= ratio });
export const atMost = (ratio) => ({ text: `≤ ${ratio}×`, check: (r) => r !== undefined && r <= ratio });
export const absoluteMax = (value, unit) => ({
  text: `≤ ${value} ${unit} (lightbus)`,
  check: (_r, a) => a !== undefined && a <= value,
});

/** The three sides every transport's bench runs: its raw client, Lightbus, and Lightbus with the OTel SDK. */
export function transportSides(raw, lightbus) {
  return [
    { key: 'raw', ...raw },
    { key: 'lightbus', module: 'lightbus.mjs', params: lightbus },
    { key: 'otel', module: 'lightbus.mjs', params: { ...lightbus, otel: true } },
  ];
}

/** The RPC phases: one call at a time, then 64 in flight (`count` calls). */
export function rpcPhases(quick, count) {
  return [
    {
      key: 'rpcSeq',
      run: 'rpcSequential',
      label: 'RPC, one call at a time',
      count: quick ? 1000 : 3000,
      warmup: 200,
      per: 'call',
      driver: 'caller',
    },
    {
      key: 'rpc64',
      run: 'rpcInFlight',
      inFlight: 64,
      label: 'RPC, 64 calls in flight',
      unit: 'calls/s',
      count,
      warmup: 1000,
      per: 'call',
      driver: 'caller',
    },
  ];
}

/** The events phase: 64 fires in flight, handled end to end by the worker's listener. */
export function eventsPhase({ count, warmup, driver = 'firer', label = 'events' }) {
  return {
    key: 'events',
    run: 'fire',
    inFlight: 64,
    label: `${label}, 64 fires in flight, end to end`,
    unit: 'events/s',
    count,
    warmup,
    per: 'event',
    driver,
  };
}

/** Run a transport's benchmark: the main table (lightbus vs raw) and the OpenTelemetry table. */
export async function benchTransport({ transport, title, sides, phases, targets, rawLabel, options }) {
  const wanted = options.only ? sides.filter((s) => options.only.split(',').includes(s.key)) : sides;
  if (options.phases) phases = phases.filter((p) => options.phases.split(',').includes(p.key));
  const figures = await runRounds(wanted, phases, { ...options, transport });
  const out = [];
  const n = options.rounds;
  const counts = phases.map((p) => `${p.label}: ${p.count.toLocaleString('en-US')}`).join('; ');
  if (figures.lightbus?.length && figures.raw?.length) {
    out.push(
      table(
        `${title}: Lightbus vs ${rawLabel} (median of ${n} interleaved rounds, min–max in brackets)`,
        ['lightbus', 'raw client'],
        standardRows(figures, 'lightbus', 'raw', phases, targets),
      ),
    );
  }
  if (figures.lightbus?.length && figures.otel?.length) {
    out.push(
      table(
        `${title}: the cost of OpenTelemetry (no SDK registered vs the SDK with tracing + metrics and a no-op exporter)`,
        ['with OTel SDK', 'no SDK'],
        standardRows(figures, 'otel', 'lightbus', phases).filter((r) => !r.label.startsWith('caller RSS')),
      ),
    );
  }
  out.push(`${counts}. ${machine()}.`, '');
  console.log(out.join('\n'));
}
