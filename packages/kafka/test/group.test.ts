/**
 * Three members of one consumer group, each in its own process (test/fixtures/consumer.ts),
 * on a topic of six partitions: they share the partitions, and when one is SIGKILLed
 * mid-stream its partitions move to the others, nothing is lost, and what comes twice is
 * only what the killed member had handled but not committed. (The bus-level tier's SIGKILL
 * scenario covers the generic case; it keys every event by its API, so one partition.)
 */
import path from 'node:path';
import type { EventMessage } from '@lightbus/core';
import { newMessageId } from '@lightbus/core/transport';
import { KafkaEventTransport } from '@lightbus/kafka';
import { startTypeScript, waitFor, type ChildRun } from '@lightbus/testing';
import { AssignerProtocol } from 'kafkajs';
import { cleanupRun, context, eventOptions, rawKafka, uniquePrefix } from './helpers';

const FIXTURE = path.join(__dirname, 'fixtures', 'consumer.ts');

function tick(apiName: string, i: number): EventMessage {
  return { id: newMessageId(), apiName, eventName: 'tick', version: 1, kwargs: { i } };
}

function handledBy(child: ChildRun): number[] {
  return [...child.output().matchAll(/^handled (\d+)$/gm)].map((m) => Number(m[1]));
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

/** The group's state and each member's partitions (of all topics), from DescribeGroups. */
async function describeGroup(groupId: string): Promise<{ state: string; partitions: number[][] }> {
  const admin = rawKafka().admin();
  await admin.connect();
  try {
    const { groups } = await admin.describeGroups([groupId]);
    const group = groups[0];
    if (!group) return { state: 'Unknown', partitions: [] };
    const partitions = group.members.map((member) => {
      const decoded = AssignerProtocol.MemberAssignment.decode(member.memberAssignment);
      return Object.values(decoded?.assignment ?? {})
        .flat()
        .sort((a, b) => a - b);
    });
    return { state: group.state, partitions };
  } finally {
    await admin.disconnect();
  }
}

function counts(values: readonly number[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const value of values) out.set(value, (out.get(value) ?? 0) + 1);
  return out;
}

describe('kafka: a consumer group across processes', () => {
  afterAll(() => cleanupRun());

  it('three members share six partitions; one SIGKILLed mid-stream: its partitions move, every event is handled, duplicates only from its batch in hand', async () => {
    const prefix = uniquePrefix('three');
    const api = 'proc.three';
    const total = 600;
    // Fetches of at most 2048 bytes per partition, one partition handled at a time
    // (partitions_consumed_concurrently: 1), events fired one by one (one record per record
    // batch, each over 200 bytes with its headers): a fetched batch holds at most ~10 events.
    // Offsets are committed at the end of each batch, so a killed member leaves at most
    // one batch handled but uncommitted: the only events another member handles again.
    const maxDuplicates = 12;
    const shape = { PARTITIONS: '6', PARTITION_KEY_PARAMETER: 'i', MAX_BYTES_PER_PARTITION: '2048' };
    const producer = new KafkaEventTransport(
      eventOptions(prefix, { partitions: 6, partition_key: { parameter: 'i' } }),
      context('producer'),
    );
    const members = ['m1', 'm2', 'm3'].map((name) =>
      startTypeScript(FIXTURE, {
        env: { TOPIC_PREFIX: prefix, API: api, HANDLER_MS: '2', CONSUMER_NAME: name, ...shape },
      }),
    );
    const [victim, ...survivors] = members as [ChildRun, ChildRun, ChildRun];
    const groupId = `${prefix}workers`;
    try {
      await Promise.all(members.map((member) => member.waitForOutput(/^ready$/m, 60_000)));
      // After the rebalances of three joins, each member holds two of the six partitions.
      await waitFor(
        async () => {
          const { state, partitions } = await describeGroup(groupId);
          return state === 'Stable' && partitions.length === 3 && partitions.every((p) => p.length === 2);
        },
        { timeout: 60_000, interval: 250, message: 'three members with two partitions each' },
      );
      for (const i of range(0, total / 2)) await producer.sendEvent(tick(api, i), { timeoutSeconds: 10 });
      await waitFor(() => handledBy(victim).length >= 20, {
        timeout: 30_000,
        message: `the victim to handle events (it printed:\n${victim.output()})`,
      });
      victim.kill('SIGKILL');
      await victim.exit;
      for (const i of range(total / 2, total)) await producer.sendEvent(tick(api, i), { timeoutSeconds: 10 });

      // The dead member's session ends; the two others share all six partitions.
      await waitFor(
        async () => {
          const { state, partitions } = await describeGroup(groupId);
          return (
            state === 'Stable' &&
            partitions.length === 2 &&
            partitions
              .flat()
              .sort((a, b) => a - b)
              .join() === '0,1,2,3,4,5'
          );
        },
        { timeout: 60_000, interval: 250, message: 'two members sharing the six partitions' },
      );
      const all = (): number[] => members.flatMap(handledBy);
      await waitFor(() => new Set(all()).size === total, {
        timeout: 60_000,
        message: `every event handled (missing: ${JSON.stringify(
          range(0, total)
            .filter((i) => !all().includes(i))
            .slice(0, 20),
        )})`,
      });

      const handled = all();
      expect(new Set(handled)).toEqual(new Set(range(0, total)));
      const duplicates = [...counts(handled)].filter(([, n]) => n > 1).map(([i]) => i);
      // Every event handled twice was handled by the killed member, and not committed by it.
      const byVictim = new Set(handledBy(victim));
      expect(duplicates.filter((i) => !byVictim.has(i))).toEqual([]);
      expect(handled.length - total).toBe(duplicates.length); // none more than twice
      expect(duplicates.length).toBeLessThanOrEqual(maxDuplicates);
      // Each survivor handled its events in order per key; together with the victim, nothing lost.
      for (const survivor of survivors) expect(new Set(handledBy(survivor)).size).toBe(handledBy(survivor).length);
    } finally {
      members.forEach((member) => member.kill('SIGKILL'));
      await producer.close();
    }
  }, 180_000);
});
