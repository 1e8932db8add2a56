// Integration tests: make sure every broker they use is there, with the broker
// helpers of @lightbus/testing: Redis and RabbitMQ (started when local and
// missing), Kafka (KAFKA_BROKERS, or a single-node Apache Kafka that tools/kafka
// starts, stopped by global-teardown.js). A broker that cannot be reached fails
// the run. jest transforms this file and what it requires, so the helpers load
// from source: no build needed.
const { kafkaBroker, rabbitmqBroker, redisBroker } = require('../packages/testing/src/brokers');
const { startKafka, stopByPid } = require('../tools/kafka/kafka');

function brokers() {
  const kafka = kafkaBroker({
    start: () => startKafka({ log: (line) => console.log(`[brokers] ${line.replace(/^\[kafka\] /, 'Kafka: ')}`) }),
    stopByPid: (pid) => stopByPid(pid, { signal: 'SIGKILL' }),
  });
  return [redisBroker(), rabbitmqBroker(), kafka];
}

module.exports = async () => {
  for (const broker of brokers()) await broker.setup();
};
module.exports.brokers = brokers;
