/**
 * @lightbus/kafka: the Kafka transport for Lightbus (kafkajs), for all four
 * roles. Name it in a config file:
 *
 *   apis:
 *     default:
 *       event_transport: { kafka: { brokers: ["kafka-1:9092"] } }
 *
 * Topic layout and wire format: docs/explanation/kafka-topics.md.
 * Options: docs/reference/transports/kafka.md.
 */
import { defineTransport } from '@lightbus/core/transport';
import { KafkaEventTransport, kafkaCapabilities } from './events';
import { EventOptions, ResultOptions, RpcOptions, SchemaOptions } from './options';
import { KafkaResultTransport } from './result';
import { KafkaRpcTransport } from './rpc';
import { KafkaSchemaTransport } from './schema';

export { EventOptions, ResultOptions, RpcOptions, SchemaOptions } from './options';
export type {
  ConnectionOptions,
  ConsumerOptions,
  KafkaEventOptions,
  KafkaResultOptions,
  KafkaRpcOptions,
  KafkaSchemaOptions,
  PartitionKeyOption,
  ProducerOptions,
  SaslOption,
  SslOption,
  TopicOptions,
} from './options';
export { KafkaEventTransport, kafkaCapabilities, parsePosition } from './events';
export { KafkaRpcTransport } from './rpc';
export { KafkaResultTransport } from './result';
export { KafkaSchemaTransport } from './schema';
export { TopicNames } from './names';

export const transport = defineTransport({
  name: 'kafka',
  // With the default options (partition_key: api); an event transport reports its own.
  capabilities: kafkaCapabilities('api'),
  // Ordering follows partition_key: per stream ('api'), per key (a parameter) or none ('id').
  eventCapabilities: (options) => kafkaCapabilities(options.partition_key),
  options: { rpc: RpcOptions, result: ResultOptions, event: EventOptions, schema: SchemaOptions },
  rpc: (options, context) => new KafkaRpcTransport(options, context),
  result: (options, context) => new KafkaResultTransport(options, context),
  event: (options, context) => new KafkaEventTransport(options, context),
  schema: (options, context) => new KafkaSchemaTransport(options, context),
});

export default transport;
