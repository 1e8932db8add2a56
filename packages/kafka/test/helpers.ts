/**
 * Shared by the Kafka integration tests: the broker list (test/global-setup.js, with @lightbus/testing's kafkaBroker,
 * starts Apache Kafka from tools/kafka unless KAFKA_BROKERS names a cluster), a
 * broker of a test's own (to take it down), a unique topic prefix per test run,
 * options with short test timings, and a raw kafkajs client for what a foreign
 * producer would do.
 */
import { randomBytes } from 'node:crypto';
import { ConsoleLogger, optionsWithDefaults, type TransportContext } from '@lightbus/core/transport';
import {
  EventOptions,
  ResultOptions,
  RpcOptions,
  SchemaOptions,
  type KafkaEventOptions,
  type KafkaResultOptions,
  type KafkaRpcOptions,
  type KafkaSchemaOptions,
} from '@lightbus/kafka';
import type { TSchema } from '@sinclair/typebox';
import { Kafka, logLevel } from 'kafkajs';

export function kafkaBrokers(): string[] {
  const value = process.env.KAFKA_BROKERS;
  if (!value)
    throw new Error(
      'KAFKA_BROKERS is not set: run the integration tests through jest (test/global-setup.js starts Apache Kafka).',
    );
  return value
    .split(',')
    .map((b) => b.trim())
    .filter(Boolean);
}

/** Unique per test file run: topics and groups of one run never meet another's. */
export const RUN_ID = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
let counter = 0;
export function uniquePrefix(label = 't'): string {
  counter += 1;
  return `lbtest.${RUN_ID}.${label}${counter}.`;
}

/** A single-node Apache Kafka of the test's own (tools/kafka): down() stops its process, up() starts it again on the same port and data. */
export interface OwnBroker {
  readonly bootstrap: string;
  stop(): Promise<void>;
  down(): Promise<void>;
  up(): Promise<void>;
}
export function startOwnBroker(): Promise<OwnBroker> {
  const { startKafka } = require('../../../tools/kafka/kafka') as { startKafka(): Promise<OwnBroker> };
  return startKafka();
}

/**
 * Group timings short enough for tests that also hold on a cluster with the
 * default group.min.session.timeout.ms of 6000 (tools/kafka lowers it to 1000).
 */
export const TEST_GROUP_TIMING = {
  session_timeout_ms: 6000,
  heartbeat_interval_ms: 500,
  rebalance_timeout_ms: 6000,
} as const;
export const TEST_FETCH = { max_wait_ms: 100 } as const;

function resolve<T>(schema: TSchema, input: Record<string, unknown>): T {
  return optionsWithDefaults<T>(schema, input, { path: 'kafka' });
}

export function eventOptions(prefix: string, extra: Record<string, unknown> = {}): KafkaEventOptions {
  return resolve(EventOptions, {
    brokers: kafkaBrokers(),
    topic_prefix: prefix,
    ...TEST_FETCH,
    ...TEST_GROUP_TIMING,
    ...extra,
  });
}
export function rpcOptions(prefix: string, extra: Record<string, unknown> = {}): KafkaRpcOptions {
  return resolve(RpcOptions, {
    brokers: kafkaBrokers(),
    topic_prefix: prefix,
    ...TEST_FETCH,
    ...TEST_GROUP_TIMING,
    ...extra,
  });
}
export function resultOptions(prefix: string, extra: Record<string, unknown> = {}): KafkaResultOptions {
  return resolve(ResultOptions, { brokers: kafkaBrokers(), topic_prefix: prefix, ...TEST_FETCH, ...extra });
}
export function schemaOptions(prefix: string, extra: Record<string, unknown> = {}): KafkaSchemaOptions {
  return resolve(SchemaOptions, { brokers: kafkaBrokers(), topic_prefix: prefix, ...TEST_FETCH, ...extra });
}

export function context(
  processName = 'p1',
  serviceName = 'svc',
  level: 'critical' | 'debug' | 'info' = 'critical',
): TransportContext {
  return { serviceName, processName, logger: new ConsoleLogger(level) };
}

/** A plain kafkajs client, as a foreign producer or an operator would use. */
export function rawKafka(): Kafka {
  return new Kafka({ clientId: 'lightbus-test-raw', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });
}

/** Delete the topics (and consumer groups) whose names start with `prefix`: the cluster keeps nothing from a test run. */
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
