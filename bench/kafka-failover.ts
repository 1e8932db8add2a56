/**
 * `npm run bench -- kafka-failover`: one broker of three killed while events and calls flow.
 * Starts a three-node KRaft cluster of its own (tools/kafka startKafkaCluster: small heaps, topics
 * with replication factor 3 and min.insync.replicas 2; the producer always waits for acks=all).
 * A worker bus serves `echo` and listens to `tick` (one group); a caller fires `tick` and calls
 * `echo` without pause; after a few seconds one broker is SIGKILLed, and the flow goes on for
 * FAILOVER_AFTER_S seconds (default 15). Checks what users rely on and exits 1 when one fails:
 * - every fire that resolved is delivered (none lost with the broker);
 * - every call settled by its deadline (rpc_timeout + 1 s), with its result or a clear error;
 * - the listener kept its group: the events handled before the kill were not handled again;
 * and prints the figures (fires and calls per outcome, duplicates, the longest pause).
 * Takes about a minute; not part of `npm test` (three JVMs on a 2-core CI machine).
 */
import lightbus, {
  Api,
  BrokerConnectionError,
  Event,
  EventFireTimeoutError,
  RpcTimeoutError,
  type Bus,
} from '@lightbus/core';

interface ClusterNode {
  readonly bootstrap: string;
  readonly pid: number;
  down(options?: { kill?: boolean }): Promise<void>;
}
const { startKafkaCluster } = require('../tools/kafka/kafka') as {
  startKafkaCluster(options: { log?: (line: string) => void }): Promise<{
    nodes: ClusterNode[];
    brokers: string[];
    version: string;
    stop(): Promise<void>;
  }>;
};

const RPC_TIMEOUT_S = 5;
const AFTER_KILL_MS = Number(process.env.FAILOVER_AFTER_S ?? 15) * 1000;

class FailoverApi extends Api {
  static override meta = { name: 'bench.failover' };
  tick = new Event({ parameters: ['i'] });
  echo({ n }: { n: number }) {
    return n;
  }
}

const until = async (condition: () => boolean, timeoutMs: number): Promise<boolean> => {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
};

async function main(): Promise<void> {
  const startedAt = Date.now();
  const cluster = await startKafkaCluster({ log: (line) => console.log(line) });
  console.log(
    `Apache Kafka ${cluster.version}: 3 nodes at ${cluster.brokers.join(', ')} in ${((Date.now() - startedAt) / 1000).toFixed(1)} s`,
  );
  const kafka = {
    brokers: cluster.brokers,
    topic_prefix: `failover.${Date.now().toString(36)}.`,
    partitions: 3,
    replication_factor: 3,
    topic_config: { 'min.insync.replicas': '2' },
    max_wait_ms: 100,
  };
  const grouped = {
    kafka: { ...kafka, session_timeout_ms: 6000, heartbeat_interval_ms: 500, rebalance_timeout_ms: 6000 },
  };
  const config = (service: string) => ({
    config: {
      service_name: service,
      bus: { schema: { transport: { kafka } } },
      apis: {
        default: {
          rpc_timeout: RPC_TIMEOUT_S,
          event_fire_timeout: 10,
          rpc_transport: grouped,
          result_transport: { kafka },
          event_transport: grouped,
        },
      },
    },
    logLevel: 'error' as const,
  });
  const buses: Bus[] = [];
  const failures: string[] = [];
  try {
    const worker = lightbus.create(config('failover-worker'));
    buses.push(worker);
    worker.client.registerApi(new FailoverApi());
    const handled = new Map<number, number>();
    worker.api(FailoverApi).tick.listen(
      (params) => {
        const i = Number(params.i);
        handled.set(i, (handled.get(i) ?? 0) + 1);
      },
      { listenerName: 'tally' },
    );
    await worker.start();
    const caller = lightbus.create(config('failover-caller'));
    buses.push(caller);
    caller.client.registerApi(new FailoverApi());
    const tick = caller.api(FailoverApi).tick;

    const resolved: number[] = [];
    const rejected: Array<{ i: number; error: string }> = [];
    const calls: Array<{ ms: number; ok: boolean; clear: boolean }> = [];
    let lastSuccess = Date.now();
    let longestPause = 0;
    const succeeded = (): void => {
      longestPause = Math.max(longestPause, Date.now() - lastSuccess);
      lastSuccess = Date.now();
    };
    let running = true;
    const fireLoop = (async () => {
      for (let i = 0; running; i += 1) {
        try {
          await tick.fire({ i });
          resolved.push(i);
          succeeded();
        } catch (error) {
          const clear =
            error instanceof BrokerConnectionError || error instanceof EventFireTimeoutError ? '' : ' (UNCLEAR)';
          rejected.push({ i, error: `${(error as Error).name}${clear}: ${(error as Error).message}` });
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    const callLoop = (async () => {
      for (let n = 0; running; n += 1) {
        const started = Date.now();
        try {
          const value = await caller.client.callRpc('bench.failover', 'echo', { n });
          calls.push({ ms: Date.now() - started, ok: value === n, clear: value === n });
        } catch (error) {
          calls.push({
            ms: Date.now() - started,
            ok: false,
            clear: error instanceof RpcTimeoutError || error instanceof BrokerConnectionError,
          });
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();

    await until(() => resolved.length >= 200 && handled.size >= 200, 60_000);
    const beforeKill = [...handled.keys()];
    const victim = cluster.nodes[1]!;
    console.log(
      `${resolved.length} events fired and ${calls.length} calls made; SIGKILL of the broker at ${victim.bootstrap}`,
    );
    const killedAt = Date.now();
    const firesAtKill = resolved.length;
    await victim.down({ kill: true });
    await new Promise((resolve) => setTimeout(resolve, AFTER_KILL_MS));
    running = false;
    await Promise.all([fireLoop, callLoop]);
    const firesAfterKill = resolved.length - firesAtKill;

    const allHandled = await until(() => resolved.every((i) => handled.has(i)), 60_000);
    const lost = resolved.filter((i) => !handled.has(i));
    const duplicates = [...handled.values()].filter((count) => count > 1).length;
    const redoneBeforeKill = beforeKill.filter((i) => (handled.get(i) ?? 0) > 1).length;
    const late = calls.filter((c) => c.ms > RPC_TIMEOUT_S * 1000 + 1000);
    const unclear =
      calls.filter((c) => !c.ok && !c.clear).length + rejected.filter((r) => r.error.includes('UNCLEAR')).length;

    console.log(`fires: ${resolved.length} resolved (${firesAfterKill} after the kill), ${rejected.length} rejected`);
    for (const { i, error } of rejected.slice(0, 5)) console.log(`  rejected fire ${i}: ${error.slice(0, 200)}`);
    console.log(
      `calls: ${calls.filter((c) => c.ok).length} answered, ${calls.filter((c) => !c.ok).length} failed, ` +
        `slowest ${Math.max(...calls.map((c) => c.ms))} ms (deadline ${RPC_TIMEOUT_S} s)`,
    );
    console.log(
      `delivered: every resolved fire ${allHandled ? 'yes' : 'NO'}; lost ${lost.length}; ` +
        `handled twice ${duplicates} (${redoneBeforeKill} of them handled before the kill)`,
    );
    console.log(
      `longest pause without a resolved fire or answered call: ${longestPause} ms ` +
        `(broker killed ${((Date.now() - killedAt) / 1000).toFixed(0)} s ago)`,
    );
    if (lost.length > 0)
      failures.push(`${lost.length} resolved fires were never delivered: ${lost.slice(0, 20).join(', ')}`);
    if (late.length > 0) failures.push(`${late.length} calls settled after their deadline`);
    if (unclear > 0) failures.push(`${unclear} calls or fires failed with an unexpected error`);
    if (firesAfterKill === 0) failures.push('no fire resolved after the kill (two brokers should be enough)');
    if (calls.length === 0 || !calls.slice(-5).some((c) => c.ok)) failures.push('calls did not succeed after the kill');
    if (redoneBeforeKill > beforeKill.length / 2)
      failures.push(`the listener started over: ${redoneBeforeKill} events handled before the kill came again`);
  } finally {
    await Promise.allSettled(buses.map((bus) => bus.close()));
    await cluster.stop();
  }
  if (failures.length > 0) {
    for (const failure of failures) console.error(`FAILED: ${failure}`);
    process.exitCode = 1;
  } else {
    console.log('OK: nothing acknowledged lost, calls settled by their deadline, the group kept its place.');
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
