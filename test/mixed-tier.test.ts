/**
 * The bus-level tier of @lightbus/testing on a mixed config: calls on RabbitMQ,
 * results and schemas on Redis, events on Kafka. Its tracing scenario is the
 * one trace across processes and transports: the caller's span (RabbitMQ call,
 * Redis result), the worker's execution, the event it fires inside (Kafka) and
 * the listener in the other process, asserted through the OpenTelemetry SDK of
 * each process. No connection-cut, poison or lag
 * scenario: those belong to each transport's own tier.
 */
import { transport as amqpTransport } from '@lightbus/amqp';
import { transport as kafkaTransport } from '@lightbus/kafka';
import { transport as redisTransport } from '@lightbus/redis';
import { busConformance } from '@lightbus/testing/jest';
import { Kafka, logLevel } from 'kafkajs';
import { Redis } from 'ioredis';
import { TestNamespace, listExchanges, listQueues, AMQP_URL } from '../packages/amqp/test/helpers';

const REDIS_URL = 'redis://127.0.0.1:6379/7'; // a database of this test's own
const RUN = `lbtest.mixedtier.${Date.now().toString(36)}.`;
let sequence = 0;

function brokers(): string[] {
  return (process.env.KAFKA_BROKERS ?? '').split(',').filter(Boolean);
}

const redis = new Redis(REDIS_URL, { lazyConnect: true });
const kafka = new Kafka({ clientId: 'lightbus-mixed-tier-test', brokers: brokers(), logLevel: logLevel.NOTHING });

afterAll(async () => {
  redis.disconnect();
});

busConformance({
  name: 'mixed (calls on amqp, results and schemas on redis, events on kafka)',
  // What the event transport (Kafka) gives; calls and results cross processes on theirs.
  capabilities: {
    crossProcess: true,
    durable: true,
    consumerGroups: true,
    replay: true,
    history: true,
    ordering: 'per-stream',
  },
  transports: [redisTransport, amqpTransport, kafkaTransport],
  // A killed member's partitions move after its session times out (6 s here).
  patience: 20_000,
  namespace(apiName) {
    sequence += 1;
    const topicPrefix = `${RUN}${sequence}.`;
    const amqp = new TestNamespace('mixedtier');
    const redisRole = { redis: { url: REDIS_URL } };
    const kafkaRole = {
      kafka: {
        brokers: brokers(),
        topic_prefix: topicPrefix,
        max_wait_ms: 100,
        session_timeout_ms: 6000,
        heartbeat_interval_ms: 500,
        rebalance_timeout_ms: 6000,
      },
    };
    return {
      config: () => ({
        bus: { schema: { transport: redisRole } },
        apis: {
          default: {
            rpc_transport: { amqp: { url: AMQP_URL, prefix: amqp.prefix } },
            result_transport: redisRole,
            event_transport: kafkaRole,
          },
        },
      }),
      cleanup: async () => {
        const keys = await redis.keys(`*${apiName}*`);
        if (keys.length > 0) await redis.del(...keys);
        await redis.srem('schemas', apiName);
        (await listQueues(amqp.prefix)).forEach((q) => amqp.queues.add(q.name));
        (await listExchanges(amqp.prefix)).forEach((e) => amqp.exchanges.add(e.name));
        await amqp.cleanup();
        const admin = kafka.admin();
        await admin.connect();
        try {
          const topics = (await admin.listTopics()).filter((t) => t.startsWith(topicPrefix));
          if (topics.length > 0) await admin.deleteTopics({ topics }).catch(() => undefined);
        } finally {
          await admin.disconnect();
        }
      },
    };
  },
});
