/**
 * The transport conformance suite, unchanged, against the Kafka transport on the
 * test broker. `patience` covers the mock's group timing: a group's first join
 * takes ~3 s and a rejoin after a member left waits session_timeout - 1 s.
 */
import { transportConformance } from '@lightbus/testing/jest';
import { KafkaEventTransport, KafkaResultTransport, KafkaRpcTransport, KafkaSchemaTransport, TopicNames } from '@lightbus/kafka';
import { cleanupRun, deleteTopicsWithPrefix, eventOptions, rawKafka, resultOptions, rpcOptions, schemaOptions, uniquePrefix } from './helpers';

afterAll(() => cleanupRun());

transportConformance({
  name: 'kafka',
  // partition_key: api, the default. Written out, not kafkaCapabilities('api'): the suite checks the transport reports exactly this.
  capabilities: { crossProcess: true, durable: true, consumerGroups: true, replay: true, history: true, ordering: 'per-stream' },
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
      injectMalformedEvent: async (apiName, eventName) => {
        const producer = rawKafka().producer();
        await producer.connect();
        try {
          await producer.send({
            topic: new TopicNames(prefix).event(apiName, eventName, 'per_api'),
            messages: [{ key: apiName, value: '{not json', headers: { 'ce_specversion': '1.0', 'ce_id': 'broken-1', 'ce_type': `${apiName}.${eventName}` } }],
          });
        } finally {
          await producer.disconnect();
        }
      },
    };
  },
});
