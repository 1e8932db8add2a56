/**
 * The options of each role, declared once with TypeBox: core validates the
 * config against these schemas (naming the key that is wrong), fills in the
 * defaults, and the factories receive the static types derived from them.
 * docs/reference/transports/amqp.md documents every key.
 */
import { Type, type Static } from '@sinclair/typebox';

const Tls = Type.Object(
  {
    ca_file: Type.Optional(
      Type.String({ minLength: 1, description: 'PEM file of the CA(s) to trust instead of the system CAs.' }),
    ),
    cert_file: Type.Optional(
      Type.String({
        minLength: 1,
        description: 'PEM client certificate, for brokers that ask for one (EXTERNAL or mutual TLS).',
      }),
    ),
    key_file: Type.Optional(Type.String({ minLength: 1, description: 'PEM private key of cert_file.' })),
    passphrase: Type.Optional(Type.String({ description: 'Passphrase of key_file.' })),
    servername: Type.Optional(
      Type.String({ minLength: 1, description: 'Server name for SNI and certificate checks (default: the url host).' }),
    ),
    reject_unauthorized: Type.Boolean({
      default: true,
      description: 'Refuse a broker whose certificate does not verify. Only turn off for local experiments.',
    }),
  },
  { additionalProperties: false, description: 'TLS settings for amqps:// urls.' },
);

/** What every role needs to reach the broker; the same keys in every role. */
const connection = {
  url: Type.String({
    pattern: '^amqps?://',
    default: 'amqp://127.0.0.1:5672/',
    description:
      'amqp://user:password@host:port/vhost or amqps:// for TLS. Percent-encode special characters; the vhost "/" is %2F (or leave the path empty). Without credentials: guest/guest.',
  }),
  prefix: Type.String({
    pattern: '^(?!amq\\.)[A-Za-z0-9][A-Za-z0-9_.-]*$',
    maxLength: 100,
    default: 'lightbus',
    description:
      'Start of every exchange and queue name. Buses with different prefixes share a broker (and vhost) without seeing each other. Letters, digits, ".", "_", "-"; not "amq.".',
  }),
  heartbeat: Type.Integer({
    minimum: 0,
    default: 30,
    description:
      'AMQP heartbeat in seconds: a connection silent for about twice this long counts as lost and is reopened. 0 turns heartbeats off.',
  }),
  connection_timeout: Type.Number({
    exclusiveMinimum: 0,
    default: 10,
    description: 'Seconds to wait for the TCP (and TLS) connection and the AMQP handshake.',
  }),
  connection_name: Type.Optional(
    Type.String({
      minLength: 1,
      description:
        'Name shown for the connection in RabbitMQ (client property connection_name). Default: "lightbus <role> <service>/<process>".',
    }),
  ),
  reconnect_initial_delay: Type.Number({
    exclusiveMinimum: 0,
    default: 0.1,
    description:
      'Seconds before the first attempt to reopen a lost connection; later attempts back off (doubling, with jitter).',
  }),
  reconnect_max_delay: Type.Number({
    exclusiveMinimum: 0,
    default: 10,
    description: 'Longest wait in seconds between attempts to reopen a lost connection.',
  }),
  tls: Type.Optional(Tls),
};

export const AmqpRpcOptions = Type.Object(
  {
    ...connection,
    prefetch: Type.Integer({
      minimum: 1,
      maximum: 65535,
      default: 10,
      description: "Calls one worker executes at once, per API (the consumer's prefetch count).",
    }),
  },
  { additionalProperties: false },
);

export const AmqpResultOptions = Type.Object(
  {
    ...connection,
    // No schema default: left unset, it is chosen from the API's rpc transport (roleDefaults in index.ts).
    reply_mode: Type.Optional(
      Type.Union([Type.Literal('direct'), Type.Literal('queue')], {
        errorHint: "must be 'direct' or 'queue'",
        description:
          "How results come back. 'direct': RabbitMQ direct reply-to (amq.rabbitmq.reply-to), no queue; needs the rpc transport to be amqp on the same broker. " +
          "'queue': one exclusive reply queue per process, which also works with another rpc transport and keeps its name across reconnections. " +
          "Default: 'direct' when the API's calls travel over amqp on the same broker, else 'queue'.",
      }),
    ),
  },
  { additionalProperties: false },
);

export const AmqpEventOptions = Type.Object(
  {
    ...connection,
    prefetch: Type.Integer({
      minimum: 1,
      maximum: 65535,
      default: 50,
      description:
        'Events one consumer holds unacknowledged (delivered ahead of its handler). Handlers run one at a time, in order.',
    }),
    durable: Type.Boolean({
      default: true,
      description:
        'Group queues survive a broker restart and events are persistent (delivery mode 2). false needs queue_type: classic.',
    }),
    queue_type: Type.Union([Type.Literal('quorum'), Type.Literal('classic')], {
      default: 'quorum',
      errorHint: "must be 'quorum' or 'classic'",
      description: 'Type of the consumer-group queues: quorum (replicated, broker-enforced delivery limit) or classic.',
    }),
    delivery_limit: Type.Integer({
      minimum: 0,
      default: 10,
      description:
        'Times an event may go back to its group queue unacknowledged (handler failed and its consumer stopped, consumer crashed, connection lost) before it is dead-lettered instead. 0: no limit.',
    }),
    message_ttl: Type.Optional(
      Type.Number({
        exclusiveMinimum: 0,
        description: 'Seconds an event may wait in a group queue; older ones are dead-lettered (x-message-ttl).',
      }),
    ),
    max_length: Type.Optional(
      Type.Integer({
        minimum: 1,
        description: 'Most events a group queue holds; the oldest are dead-lettered beyond it (x-max-length).',
      }),
    ),
    dead_letter: Type.Boolean({
      default: true,
      description:
        'Set poison and undeliverable events aside in the dead-letter queue <prefix>.dead-letter. false: log and drop them.',
    }),
    stream: Type.Boolean({
      default: false,
      description:
        'Also keep every event in a stream queue per API (<prefix>.stream.<api>, RabbitMQ >= 3.9): enables listen(since: ...) replay and history (lightbus inspect).',
    }),
    stream_max_age: Type.Integer({
      minimum: 1,
      default: 604800,
      description: 'Seconds of events a stream keeps (x-max-age); older segments are removed.',
    }),
    stream_max_bytes: Type.Integer({
      minimum: 1048576,
      default: 10_000_000_000,
      description: 'Bytes a stream keeps at most (x-max-length-bytes); the oldest segments are removed beyond it.',
    }),
  },
  { additionalProperties: false },
);

export const AmqpSchemaOptions = Type.Object(
  {
    ...connection,
    max_ttl: Type.Integer({
      minimum: 1,
      maximum: 86400,
      default: 600,
      description:
        'Longest schema ttl stored through this transport, in seconds: load() reads this far back in <prefix>.schemas.',
    }),
  },
  { additionalProperties: false },
);

export type AmqpRpcOptions = Static<typeof AmqpRpcOptions>;
export type AmqpResultOptions = Static<typeof AmqpResultOptions>;
export type AmqpEventOptions = Static<typeof AmqpEventOptions>;
export type AmqpSchemaOptions = Static<typeof AmqpSchemaOptions>;

/** The connection keys every role has. */
export type AmqpConnectionOptions = Pick<
  AmqpRpcOptions,
  | 'url'
  | 'prefix'
  | 'heartbeat'
  | 'connection_timeout'
  | 'connection_name'
  | 'reconnect_initial_delay'
  | 'reconnect_max_delay'
  | 'tls'
>;
