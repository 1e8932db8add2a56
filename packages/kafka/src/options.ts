/**
 * The Kafka transport's options, declared once with TypeBox: core validates a
 * config file against these schemas (errors name the key), fills the defaults,
 * and the static types below come from the same declarations.
 *
 * Every role shares the connection options (brokers, client_id, ssl, sasl,
 * timeouts, retry) and the topic options (topic_prefix, create_topics,
 * partitions, replication_factor, topic_config). Producers add batching;
 * consumers add group timing. See docs/reference/transports/kafka.md.
 */
import { Type, type Static, type TProperties } from '@sinclair/typebox';
import { deliveryLimitOption } from '@lightbus/core/transport';

const TOPIC_CHARS = '^[A-Za-z0-9._-]*$';

const Ssl = Type.Union(
  [
    Type.Boolean(),
    Type.Object(
      {
        ca: Type.Optional(
          Type.Union([Type.String(), Type.Array(Type.String())], {
            description: 'Trusted CA certificate(s), PEM text.',
          }),
        ),
        cert: Type.Optional(Type.String({ description: 'Client certificate, PEM text (mutual TLS).' })),
        key: Type.Optional(Type.String({ description: 'Client private key, PEM text (mutual TLS).' })),
        passphrase: Type.Optional(Type.String({ description: 'Passphrase of the private key.' })),
        ca_file: Type.Optional(
          Type.String({ minLength: 1, description: 'Path of a PEM file of trusted CA certificates (read at start).' }),
        ),
        cert_file: Type.Optional(
          Type.String({ minLength: 1, description: 'Path of the client certificate PEM file (read at start).' }),
        ),
        key_file: Type.Optional(
          Type.String({ minLength: 1, description: 'Path of the client private key PEM file (read at start).' }),
        ),
        servername: Type.Optional(Type.String({ description: 'Server name for SNI and certificate checks.' })),
        reject_unauthorized: Type.Optional(
          Type.Boolean({
            description:
              'Refuse brokers whose certificate is not trusted (default true). Never turn off in production.',
          }),
        ),
      },
      { additionalProperties: false },
    ),
  ],
  {
    default: false,
    description:
      'TLS to the brokers: false (plain TCP), true (TLS with the system CAs), or TLS options passed to Node tls.connect().',
    errorHint:
      'must be true, false, or an object of TLS options (ca, cert, key, passphrase, ca_file, cert_file, key_file, servername, reject_unauthorized)',
  },
);

const SaslPassword = Type.Object(
  {
    mechanism: Type.Union([Type.Literal('plain'), Type.Literal('scram-sha-256'), Type.Literal('scram-sha-512')]),
    username: Type.String({ minLength: 1 }),
    password: Type.String(),
  },
  { additionalProperties: false },
);

const SaslAws = Type.Object(
  {
    mechanism: Type.Literal('aws'),
    authorization_identity: Type.String({ minLength: 1, description: 'The IAM user or role id (aws:userid).' }),
    access_key_id: Type.String({ minLength: 1 }),
    secret_access_key: Type.String({ minLength: 1 }),
    session_token: Type.Optional(Type.String()),
  },
  { additionalProperties: false },
);

const Sasl = Type.Union([SaslPassword, SaslAws], {
  description:
    'SASL authentication: {mechanism: plain | scram-sha-256 | scram-sha-512, username, password} or {mechanism: aws, ...}.',
  errorHint:
    'must be {mechanism: plain | scram-sha-256 | scram-sha-512, username, password} or {mechanism: aws, authorization_identity, access_key_id, secret_access_key, session_token?}',
});

/** Connection options, the same for every role; transports with equal values share one connection. */
export const connectionProperties = {
  brokers: Type.Array(Type.String({ minLength: 1, pattern: '^[^\\s,/]+:[0-9]+$', errorHint: 'must be host:port' }), {
    minItems: 1,
    default: ['localhost:9092'],
    description: 'Bootstrap brokers, as host:port. More than one lets the client start while a broker is down.',
  }),
  client_id: Type.Optional(
    Type.String({
      minLength: 1,
      description: 'Client id the brokers see (quotas, logs). Default: lightbus-<service_name>.',
    }),
  ),
  ssl: Ssl,
  sasl: Type.Optional(Sasl),
  connection_timeout_ms: Type.Integer({
    minimum: 1,
    default: 3000,
    description: 'Milliseconds to wait for a TCP (and TLS) connection to a broker.',
  }),
  request_timeout_ms: Type.Integer({
    minimum: 1,
    default: 30000,
    description: 'Milliseconds to wait for a broker to answer a request.',
  }),
  retry: Type.Object(
    {
      retries: Type.Integer({
        minimum: 0,
        default: 5,
        description: 'Retries of a failed request before giving up (kafkajs retry.retries).',
      }),
      initial_retry_time_ms: Type.Integer({
        minimum: 1,
        default: 300,
        description: 'First retry delay; later ones grow exponentially, with jitter.',
      }),
      max_retry_time_ms: Type.Integer({
        minimum: 1,
        default: 30000,
        description: 'Longest delay between two retries.',
      }),
    },
    { additionalProperties: false, default: {}, description: 'How kafkajs retries failed requests and reconnects.' },
  ),
} satisfies TProperties;

/** Where topics live and how the ones the transport creates are shaped. */
export const topicProperties = {
  topic_prefix: Type.String({
    pattern: TOPIC_CHARS,
    maxLength: 100,
    default: 'lightbus.',
    description:
      'Put before every topic and consumer group name this transport uses (isolates buses sharing a cluster).',
  }),
  create_topics: Type.Boolean({
    default: true,
    description:
      'Create missing topics through the admin API (CreateTopics). When false, or when the broker refuses or lacks CreateTopics, topics come from broker auto-creation or from your administrator.',
  }),
  partitions: Type.Integer({ minimum: 1, default: 6, description: 'Partitions of the topics this transport creates.' }),
  replication_factor: Type.Integer({
    minimum: -1,
    default: -1,
    description:
      'Replication factor of the topics this transport creates; -1 means the broker default (default.replication.factor).',
  }),
  topic_config: Type.Record(Type.String({ minLength: 1 }), Type.String(), {
    default: {},
    description:
      'Extra topic configs for the topics this transport creates, e.g. {"retention.ms": "604800000", "min.insync.replicas": "2"}.',
  }),
} satisfies TProperties;

/** Producer batching: kafkajs has no linger of its own; the transport gathers messages itself. */
export const producerProperties = {
  linger_ms: Type.Integer({
    minimum: 0,
    default: 0,
    description:
      'Milliseconds a message may wait for others to share its produce request. 0: send at once; messages that arrive while a request is in flight still go together in the next one.',
  }),
  batch_size: Type.Integer({ minimum: 1, default: 500, description: 'Most messages in one produce request.' }),
  batch_bytes: Type.Integer({
    minimum: 1024,
    default: 900_000,
    description: 'Most bytes (keys, values, headers) in one produce request; keep under the broker message.max.bytes.',
  }),
  compression: Type.Union([Type.Literal('none'), Type.Literal('gzip')], {
    default: 'none',
    description: 'Compression of produced batches (kafkajs supports gzip without extra packages).',
  }),
  idempotent: Type.Boolean({
    default: true,
    description:
      'Use the idempotent producer (no duplicates from retries, order kept per partition). Falls back to a plain producer, with a warning, where the broker does not allow it.',
  }),
} satisfies TProperties;

/** Fetching: how long a fetch waits at the broker, how much it takes. */
export const fetchProperties = {
  max_wait_ms: Type.Integer({
    minimum: 10,
    default: 500,
    description:
      'Longest time a fetch waits at the broker for new messages (fetch.max.wait.ms). Kafka answers as soon as a message arrives; lower values cost more requests on idle topics.',
  }),
  max_bytes_per_partition: Type.Integer({
    minimum: 1024,
    default: 1_048_576,
    description: 'Most bytes fetched from one partition per request.',
  }),
} satisfies TProperties;

/** Consumer group timing (listeners and workers). */
export const groupProperties = {
  session_timeout_ms: Type.Integer({
    minimum: 1000,
    default: 30000,
    description: 'A consumer that sends no heartbeat for this long leaves its group; its partitions go to the others.',
  }),
  heartbeat_interval_ms: Type.Integer({
    minimum: 100,
    default: 3000,
    description: 'Milliseconds between heartbeats; about a third of session_timeout_ms.',
  }),
  rebalance_timeout_ms: Type.Integer({
    minimum: 1000,
    default: 60000,
    description: 'How long the group waits for members to rejoin during a rebalance.',
  }),
} satisfies TProperties;

const PartitionKey = Type.Union(
  [
    Type.Literal('api'),
    Type.Literal('event'),
    Type.Literal('id'),
    Type.Object({ parameter: Type.String({ minLength: 1 }) }, { additionalProperties: false }),
  ],
  {
    default: 'api',
    description:
      "The key that picks an event's partition, and so what stays in order: 'api' (all events of an API, in order), 'event' (each event's stream in order), 'id' (spread evenly, no order), or {parameter: name} (events with the same value of that parameter in order; events without it use 'event').",
    errorHint: "must be 'api', 'event', 'id' or {parameter: <name>}",
  },
);

export const EventOptions = Type.Object(
  {
    ...connectionProperties,
    ...topicProperties,
    ...producerProperties,
    ...fetchProperties,
    ...groupProperties,
    topic_use: Type.Union([Type.Literal('per_api'), Type.Literal('per_event')], {
      default: 'per_api',
      description:
        "One topic per API ('per_api': <prefix>event.<api>) or per event ('per_event': <prefix>event.<api>.<event>).",
      errorHint: "must be 'per_api' or 'per_event'",
    }),
    partition_key: PartitionKey,
    partitions_consumed_concurrently: Type.Integer({
      minimum: 1,
      default: 1,
      description: 'Partitions one consumer handles at once (each partition stays in order).',
    }),
    dead_letter_topic: Type.Optional(
      Type.String({
        minLength: 1,
        pattern: TOPIC_CHARS,
        description: 'Where poison events go. Default: <prefix>dead-letter.',
      }),
    ),
    delivery_limit: deliveryLimitOption(
      'Counted by the consuming process, per record: a failing event is read again from its partition after a backoff ' +
        '(the partition waits meanwhile); a process restart counts afresh.',
    ),
    history_max_scan: Type.Integer({
      minimum: 1,
      default: 100_000,
      description: 'Most messages one history query (lightbus inspect) reads per partition, newest first.',
    }),
  },
  { additionalProperties: false },
);

export const RpcOptions = Type.Object(
  {
    ...connectionProperties,
    ...topicProperties,
    ...producerProperties,
    ...fetchProperties,
    ...groupProperties,
    concurrency: Type.Integer({ minimum: 1, default: 10, description: 'Calls one worker executes at once.' }),
  },
  { additionalProperties: false },
);

export const ResultOptions = Type.Object(
  {
    ...connectionProperties,
    ...topicProperties,
    ...producerProperties,
    ...fetchProperties,
  },
  { additionalProperties: false },
);

export const SchemaOptions = Type.Object(
  {
    ...connectionProperties,
    ...topicProperties,
    ...producerProperties,
    ...fetchProperties,
    load_timeout_ms: Type.Integer({
      minimum: 100,
      default: 30000,
      description: 'Longest time load() waits to read the schema topic up to its end.',
    }),
  },
  { additionalProperties: false },
);

export type KafkaEventOptions = Static<typeof EventOptions>;
export type KafkaRpcOptions = Static<typeof RpcOptions>;
export type KafkaResultOptions = Static<typeof ResultOptions>;
export type KafkaSchemaOptions = Static<typeof SchemaOptions>;

/* eslint-disable @typescript-eslint/no-unused-vars -- values only for their types, below */
const ConnectionOnly = Type.Object(connectionProperties);
const TopicOnly = Type.Object(topicProperties);
const ProducerOnly = Type.Object(producerProperties);
const ConsumerOnly = Type.Object({ ...fetchProperties, ...groupProperties });
/* eslint-enable @typescript-eslint/no-unused-vars */
export type ConnectionOptions = Static<typeof ConnectionOnly>;
export type TopicOptions = Static<typeof TopicOnly>;
export type ProducerOptions = Static<typeof ProducerOnly>;
export type ConsumerOptions = Static<typeof ConsumerOnly>;
export type PartitionKeyOption = Static<typeof PartitionKey>;
export type SslOption = Static<typeof Ssl>;
export type SaslOption = Static<typeof Sasl>;

/** The group heartbeat interval: as configured, but at most a third of the session timeout. */
export function heartbeatIntervalMs(
  timing: Pick<ConsumerOptions, 'heartbeat_interval_ms' | 'session_timeout_ms'>,
): number {
  return Math.min(timing.heartbeat_interval_ms, Math.floor(timing.session_timeout_ms / 3));
}
