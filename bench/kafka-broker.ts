/** The Kafka broker of the Kafka benchmarks: KAFKA_BROKERS if set, else a single-node Apache Kafka (tools/kafka) started here. */
const { startKafka } = require('../tools/kafka/kafka') as {
  startKafka(): Promise<{ bootstrap: string; version: string; stop(): Promise<void> }>;
};

export interface BenchBroker {
  readonly brokers: string[];
  /** For the report: which broker the figures come from. */
  readonly label: string;
  /** Stops the broker if this started it. */
  stop(): Promise<void>;
}

export async function benchBroker(): Promise<BenchBroker> {
  const given = process.env.KAFKA_BROKERS?.split(',').filter(Boolean);
  if (given?.length)
    return { brokers: given, label: `KAFKA_BROKERS=${process.env.KAFKA_BROKERS ?? ''}`, stop: async () => {} };
  const kafka = await startKafka();
  return {
    brokers: [kafka.bootstrap],
    label: `Apache Kafka ${kafka.version} (tools/kafka), 1 broker`,
    stop: () => kafka.stop(),
  };
}
