/**
 * Shared by the Kafka integration tests: the broker list (test/brokers/kafka.js
 * starts the librdkafka mock unless KAFKA_BROKERS names a cluster), a unique
 * topic prefix per test run, options with the test timings that suit the mock
 * (group joins take ~3 s there), and a raw kafkajs client for what a foreign
 * producer would do.
 */
import { randomBytes } from 'node:crypto';
import { ConsoleLogger, validateAgainst, type TransportContext } from '@lightbus/core';
import { EventOptions, ResultOptions, RpcOptions, SchemaOptions, type KafkaEventOptions, type KafkaResultOptions, type KafkaRpcOptions, type KafkaSchemaOptions } from '@lightbus/kafka';
import type { TSchema } from '@sinclair/typebox';
import { Kafka, logLevel } from 'kafkajs';

export function kafkaBrokers(): string[] {
  const value = process.env.KAFKA_BROKERS;
  if (!value) throw new Error('KAFKA_BROKERS is not set: run the integration tests through jest (test/global-setup.js starts the mock broker).');
  return value.split(',').map((b) => b.trim()).filter(Boolean);
}

/** Unique per test file run: topics and groups of one run never meet another's. */
export const RUN_ID = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
let counter = 0;
export function uniquePrefix(label = 't'): string {
  counter += 1;
  return `lbtest.${RUN_ID}.${label}${counter}.`;
}

/**
 * Group timings that work on the mock (see tools/kafka-mock/README.md) and on a
 * real broker (whose group.min.session.timeout.ms is 6000 by default).
 */
export const TEST_GROUP_TIMING = { session_timeout_ms: 6000, heartbeat_interval_ms: 500, rebalance_timeout_ms: 6000 } as const;
export const TEST_FETCH = { max_wait_ms: 100 } as const;

function resolve<T>(schema: TSchema, input: Record<string, unknown>): T {
  const options = structuredClone(input);
  const issues = validateAgainst(schema, options, 'kafka');
  if (issues.length > 0) throw new Error(`bad test options: ${JSON.stringify(issues)}`);
  return options as T;
}

export function eventOptions(prefix: string, extra: Record<string, unknown> = {}): KafkaEventOptions {
  return resolve(EventOptions, { brokers: kafkaBrokers(), topic_prefix: prefix, ...TEST_FETCH, ...TEST_GROUP_TIMING, ...extra });
}
export function rpcOptions(prefix: string, extra: Record<string, unknown> = {}): KafkaRpcOptions {
  return resolve(RpcOptions, { brokers: kafkaBrokers(), topic_prefix: prefix, ...TEST_FETCH, ...TEST_GROUP_TIMING, ...extra });
}
export function resultOptions(prefix: string, extra: Record<string, unknown> = {}): KafkaResultOptions {
  return resolve(ResultOptions, { brokers: kafkaBrokers(), topic_prefix: prefix, ...TEST_FETCH, ...extra });
}
export function schemaOptions(prefix: string, extra: Record<string, unknown> = {}): KafkaSchemaOptions {
  return resolve(SchemaOptions, { brokers: kafkaBrokers(), topic_prefix: prefix, ...TEST_FETCH, ...extra });
}

export function context(processName = 'p1', serviceName = 'svc', level: 'critical' | 'debug' | 'info' = 'critical'): TransportContext {
  return { serviceName, processName, logger: new ConsoleLogger(level) };
}

/** A plain kafkajs client, as a foreign producer or an operator would use. */
export function rawKafka(): Kafka {
  return new Kafka({ clientId: 'lightbus-test-raw', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });
}

/**
 * Delete the topics (and consumer groups) whose names start with `prefix`, where
 * the broker allows: a real cluster keeps nothing from a test run; the mock has
 * no DeleteTopics, ListGroups or DeleteGroups, and forgets everything when it stops.
 */
export async function deleteTopicsWithPrefix(prefix: string, groups = false): Promise<void> {
  const admin = rawKafka().admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    if (topics.length > 0) await admin.deleteTopics({ topics }).catch(() => undefined);
    if (groups) {
      const listed = await admin.listGroups().catch(() => ({ groups: [] as Array<{ groupId: string }> }));
      const mine = listed.groups.map((g) => g.groupId).filter((g) => g.startsWith(prefix));
      if (mine.length > 0) await admin.deleteGroups(mine).catch(() => undefined);
    }
  } finally {
    await admin.disconnect();
  }
}

/** Everything this test file's run created (call in afterAll). */
export function cleanupRun(): Promise<void> {
  return deleteTopicsWithPrefix(`lbtest.${RUN_ID}.`, true);
}
