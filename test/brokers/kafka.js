// The Kafka-protocol broker for the integration tests. With KAFKA_BROKERS set
// (host:port,host:port), the tests use that cluster and this only checks that it
// answers. Otherwise it starts librdkafka's mock cluster (tools/kafka-mock) and
// exports its address as KAFKA_BROKERS, which the jest workers inherit;
// teardown() stops only the mock this module started.
const { reachable } = require('./ensure');
const { startMock, stopMockByPid } = require('../../tools/kafka-mock/mock');

let started;

async function setup() {
  const given = process.env.KAFKA_BROKERS;
  if (given && !process.env.LIGHTBUS_KAFKA_MOCK_PID) {
    const brokers = given.split(',').map((b) => b.trim()).filter(Boolean);
    const answers = await Promise.all(
      brokers.map((broker) => {
        const at = broker.lastIndexOf(':');
        return reachable(broker.slice(0, at), Number(broker.slice(at + 1)), 3000);
      }),
    );
    if (!answers.some(Boolean)) {
      throw new Error(
        `KAFKA_BROKERS=${given}: no broker answers. Start the cluster, or unset KAFKA_BROKERS to let the tests start the mock broker (tools/kafka-mock).`,
      );
    }
    console.log(`[brokers] Kafka: using KAFKA_BROKERS=${given}`);
    return;
  }
  started = await startMock();
  process.env.KAFKA_BROKERS = started.bootstrap;
  process.env.KAFKA_MOCK_CONTROL = started.control;
  process.env.LIGHTBUS_KAFKA_MOCK_PID = String(started.pid);
  console.log(`[brokers] Kafka: started the librdkafka mock broker at ${started.bootstrap} (pid ${started.pid})`);
}

async function teardown() {
  if (started) {
    await started.stop();
    started = undefined;
    delete process.env.KAFKA_BROKERS;
  } else if (process.env.LIGHTBUS_KAFKA_MOCK_PID) {
    stopMockByPid(Number(process.env.LIGHTBUS_KAFKA_MOCK_PID));
  }
  delete process.env.LIGHTBUS_KAFKA_MOCK_PID;
  delete process.env.KAFKA_MOCK_CONTROL;
}

module.exports = { setup, teardown };
