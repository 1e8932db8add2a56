/**
 * The transport conformance suite, unchanged, against the Kafka transport on the
 * test broker. `patience` covers the mock's group timing: a group's first join
 * takes ~3 s and a rejoin after a member left waits session_timeout - 1 s.
 */
import { waitFor } from '@lightbus/testing';
import { transportConformance } from '@lightbus/testing/jest';
import {
  KafkaEventTransport,
  KafkaResultTransport,
  KafkaRpcTransport,
  KafkaSchemaTransport,
  TopicNames,
} from '@lightbus/kafka';
import {
  cleanupRun,
  deleteTopicsWithPrefix,
  eventOptions,
  rawKafka,
  resultOptions,
  rpcOptions,
  schemaOptions,
  uniquePrefix,
} from './helpers';

afterAll(() => cleanupRun());

transportConformance({
  name: 'kafka',
  // partition_key: api, the default. Written out, not kafkaCapabilities('api'): the suite checks the transport reports exactly this.
  capabilities: {
    crossProcess: true,
    durable: true,
    consumerGroups: true,
    replay: true,
    history: true,
    ordering: 'per-stream',
  },
  canInjectMalformedEvents: true,
  deliveryLimit: 2,
  patience: 15_000,
  namespace() {
    const prefix = uniquePrefix('conf');
    return {
      connect: (context) => ({
        rpc: new KafkaRpcTransport(rpcOptions(prefix), context),
        result: new KafkaResultTransport(resultOptions(prefix), context),
        event: new KafkaEventTransport(eventOptions(prefix, { delivery_limit: 2 }), context),
        schema: new KafkaSchemaTransport(schemaOptions(prefix), context),
      }),
      cleanup: () => deleteTopicsWithPrefix(prefix),
      deadLetters: () => readDeadLetters(new TopicNames(prefix).deadLetter(), `${prefix}dead-letter-reader`),
      injectMalformedEvent: async (apiName, eventName) => {
        const producer = rawKafka().producer();
        await producer.connect();
        try {
          await producer.send({
            topic: new TopicNames(prefix).event(apiName, eventName, 'per_api'),
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
    };
  },
});

/** Everything on the dead-letter topic so far (up to its end when asked), as id and reason. */
async function readDeadLetters(topic: string, groupId: string): Promise<Array<{ id?: string; reason: string }>> {
  const admin = rawKafka().admin();
  await admin.connect();
  let end: number;
  try {
    if (!(await admin.listTopics()).includes(topic)) return [];
    end = (await admin.fetchTopicOffsets(topic)).reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
  } finally {
    await admin.disconnect();
  }
  if (end === 0) return [];
  const letters: Array<{ id?: string; reason: string }> = [];
  const consumer = rawKafka().consumer({ groupId, sessionTimeout: 6000, heartbeatInterval: 500, maxWaitTimeInMs: 100 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    const header = (value: Buffer | string | Array<Buffer | string> | undefined) =>
      value === undefined ? undefined : String(Array.isArray(value) ? value[0] : value);
    await consumer.run({
      eachMessage: async ({ message }) => {
        letters.push({
          id: header(message.headers?.['ce_id']),
          reason: header(message.headers?.['lightbus-dead-letter-reason']) ?? '',
        });
      },
    });
    await waitFor(() => letters.length >= end, { timeout: 15_000, message: `the ${end} record(s) of ${topic}` });
    return letters;
  } finally {
    await consumer.disconnect();
  }
}
