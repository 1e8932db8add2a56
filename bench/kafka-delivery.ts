/**
 * `npm run bench -- kafka-delivery`: exact delivery under load on Kafka. One bus fires
 * DELIVERY_EVENTS events (default 100,000; 256 in flight) to a topic of 6 partitions; three
 * buses (three members of one consumer group, each with its own Kafka client) listen. The
 * run counts every event's deliveries by id and fails (exit code 1) when any event is
 * missing. Duplicates are counted (at least once): with no member dying there should be none.
 * Broker: KAFKA_BROKERS if set, else a single-node Apache Kafka (tools/kafka), started here.
 */
import lightbus, { Api, Event, type Bus } from '@lightbus/core';

import { benchBroker } from './kafka-broker';

const TOTAL = Number(process.env.DELIVERY_EVENTS ?? 100_000);
const IN_FLIGHT = 256;
const MEMBERS = 3;

class DeliveryApi extends Api {
  static override meta = { name: 'bench.delivery' };
  tick = new Event({ parameters: ['i'] });
}

async function main(): Promise<void> {
  const started = await benchBroker();
  const { brokers, label: broker } = started;
  const kafka = {
    brokers,
    topic_prefix: `delivery.${Date.now().toString(36)}.`,
    partitions: 6,
    partition_key: 'id',
    max_wait_ms: 100,
    session_timeout_ms: 10_000,
    heartbeat_interval_ms: 1000,
  };
  const config = (name: string) => ({
    config: { service_name: name, apis: { default: { event_transport: { kafka } } } },
    logLevel: 'warning' as const,
  });
  const seen = new Uint16Array(TOTAL);
  const perMember = new Array<number>(MEMBERS).fill(0);
  let handled = 0;
  let onProgress: (() => void) | undefined;
  const buses: Bus[] = [];
  try {
    for (let m = 0; m < MEMBERS; m += 1) {
      const bus = lightbus.create(config('delivery-worker'));
      bus.client.registerApi(new DeliveryApi());
      bus.api(DeliveryApi).tick.listen(
        (params) => {
          const i = Number(params.i);
          seen[i] = (seen[i] ?? 0) + 1;
          perMember[m] = (perMember[m] ?? 0) + 1;
          handled += 1;
          onProgress?.();
        },
        { listenerName: 'count' },
      );
      await bus.start();
      buses.push(bus);
    }
    const producer = lightbus.create(config('delivery-producer'));
    producer.client.registerApi(new DeliveryApi());
    buses.push(producer);
    const fire = producer.api(DeliveryApi).tick;

    const startedAt = Date.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        while (next < TOTAL) {
          const i = next++;
          await fire.fire({ i });
        }
      }),
    );
    const firedMs = Date.now() - startedAt;
    const distinct = (): number => seen.reduce((n, count) => n + (count > 0 ? 1 : 0), 0);
    // Wait until every event arrived, or until nothing new arrived for 60 s.
    await new Promise<void>((resolve) => {
      let idle: NodeJS.Timeout | undefined;
      const check = (): void => {
        if (idle) clearTimeout(idle);
        if (handled >= TOTAL && distinct() === TOTAL) return resolve();
        idle = setTimeout(resolve, 60_000);
      };
      onProgress = () => {
        if (handled >= TOTAL) check();
      };
      check();
    });
    onProgress = undefined;
    const doneMs = Date.now() - startedAt;
    const missing = TOTAL - distinct();
    const duplicates = handled - distinct();
    console.log(
      `\n### Kafka exact delivery (${broker}; ${TOTAL} events, ${MEMBERS} members of one group, 6 partitions)\n`,
    );
    console.log('| figure | value |\n|---|---|');
    console.log(`| events fired | ${TOTAL} (in ${(firedMs / 1000).toFixed(1)} s, ${IN_FLIGHT} in flight) |`);
    console.log(`| distinct events handled | ${distinct()} |`);
    console.log(`| missing | ${missing} |`);
    console.log(`| duplicates | ${duplicates} |`);
    console.log(`| handled per member | ${perMember.join(' / ')} |`);
    console.log(
      `| all handled after | ${(doneMs / 1000).toFixed(1)} s (${Math.round((TOTAL / doneMs) * 1000)} events/s end to end) |`,
    );
    if (missing > 0) {
      console.error(`${missing} events were never handled`);
      process.exitCode = 1;
    }
  } finally {
    for (const bus of buses.reverse()) await bus.close();
    await started.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
