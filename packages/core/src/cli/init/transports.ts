/** The transports `lightbus init` can scaffold for: their package and how lightbus.yaml reaches the broker. */

export const INIT_TRANSPORTS = ['memory', 'redis', 'amqp', 'kafka'] as const;
export type InitTransport = (typeof INIT_TRANSPORTS)[number];

interface TransportTemplate {
  /** The package to depend on (memory is in core). */
  readonly package?: string;
  /** The transport's options in lightbus.yaml: a YAML flow mapping, one line. */
  readonly options: string;
  /** How to get a broker on this machine, for the yaml's comment. */
  readonly broker: string;
}

export const TRANSPORTS: Readonly<Record<InitTransport, TransportTemplate>> = {
  memory: {
    options: '{}',
    broker: 'No broker: the memory transport reaches only buses in the same process.',
  },
  redis: {
    package: '@lightbus/redis',
    options: "{ url: '${REDIS_URL:-redis://127.0.0.1:6379/0}' }",
    broker: 'Redis 6.2 or later (docker run -p 6379:6379 redis); REDIS_URL points elsewhere.',
  },
  amqp: {
    package: '@lightbus/amqp',
    options: "{ url: '${AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/}' }",
    broker: 'RabbitMQ (docker run -p 5672:5672 rabbitmq); AMQP_URL points elsewhere.',
  },
  kafka: {
    package: '@lightbus/kafka',
    options: "{ brokers: ['${KAFKA_BROKER:-127.0.0.1:9092}'] }",
    broker: 'Apache Kafka (docker run -p 9092:9092 apache/kafka); KAFKA_BROKER points elsewhere.',
  },
};
