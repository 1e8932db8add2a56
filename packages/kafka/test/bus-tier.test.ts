/**
 * The bus-level tier of @lightbus/testing on Kafka: processes, SIGKILL, SIGTERM drain,
 * poison messages. No connection-cut scenario: a Kafka client connects to the addresses
 * the broker advertises, not through a proxy in front of the bootstrap address (Kafka's
 * own outage test, failures.test.ts, stops a broker of its own instead).
 */
import { busConformance } from '@lightbus/testing/jest';
import { TopicNames, transport } from '@lightbus/kafka';
import type { Consumer } from 'kafkajs';
import {
  TEST_FETCH,
  TEST_GROUP_TIMING,
  cleanupRun,
  deleteTopicsWithPrefix,
  kafkaBrokers,
  rawKafka,
  uniquePrefix,
} from './helpers';

afterAll(() => cleanupRun());

busConformance({
  name: 'kafka',
  capabilities: {
    crossProcess: true,
    durable: true,
    consumerGroups: true,
    replay: true,
    history: true,
    ordering: 'per-stream',
  },
  readsDeadLetters: true,
  consumerLag: {},
  canInjectMalformedEvents: true,
  transports: [transport],
  // A killed member's partitions move after its session times out (6 s here).
  patience: 20_000,
  namespace() {
    const prefix = uniquePrefix('tier');
    const names = new TopicNames(prefix);
    const setAside: Array<{ reason: string }> = [];
    let reader: Consumer | undefined;
    return {
      config: () => {
        const base = { brokers: kafkaBrokers(), topic_prefix: prefix, ...TEST_FETCH };
        const grouped = { kafka: { ...base, ...TEST_GROUP_TIMING } };
        return {
          bus: { schema: { transport: { kafka: base } } },
          apis: { default: { rpc_transport: grouped, result_transport: { kafka: base }, event_transport: grouped } },
        };
      },
      injectMalformedEvent: async (apiName, eventName) => {
        const producer = rawKafka().producer();
        await producer.connect();
        try {
          await producer.send({
            topic: names.event(apiName, eventName, 'per_api'),
            messages: [
              {
                key: apiName,
                value: '{not json',
                headers: { ce_specversion: '1.0', ce_id: 'broken-1', ce_type: `${apiName}.${eventName}` },
              },
            ],
          });
        } finally {
          await producer.disconnect();
        }
      },
      // The dead-letter topic, read from the beginning by one consumer started on the first look.
      deadLetters: async () => {
        if (!reader) {
          reader = rawKafka().consumer({
            groupId: `${prefix}dead-letter-reader`,
            sessionTimeout: 6000,
            heartbeatInterval: 500,
            maxWaitTimeInMs: 100,
          });
          await reader.connect();
          await reader.subscribe({ topics: [names.deadLetter()], fromBeginning: true });
          await reader.run({
            eachMessage: async ({ message }) => {
              const reason = message.headers?.['lightbus-dead-letter-reason'];
              setAside.push({ reason: String(Array.isArray(reason) ? reason[reason.length - 1] : (reason ?? '')) });
            },
          });
        }
        return setAside;
      },
      cleanup: async () => {
        await reader?.disconnect();
        await deleteTopicsWithPrefix(prefix, true);
      },
    };
  },
});
