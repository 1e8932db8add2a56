// Apache Kafka for the integration tests. With KAFKA_BROKERS set (host:port,host:port),
// the tests use that cluster and this only checks that it answers. Otherwise it starts a
// single-node Apache Kafka broker from Maven Central artifacts (tools/kafka) on a free
// port and exports its address as KAFKA_BROKERS, which the jest workers inherit;
// teardown() stops only the broker this module started. A broker that cannot be reached
// or started fails the run: Kafka tests never skip.
const { rmSync } = require('node:fs');
const { reachable } = require('./ensure');
const { startKafka, stopByPid } = require('../../tools/kafka/kafka');

let started;

async function setup() {
  const given = process.env.KAFKA_BROKERS;
  if (given && !process.env.LIGHTBUS_KAFKA_PID) {
    const brokers = given.split(',').map((b) => b.trim()).filter(Boolean);
    const answers = await Promise.all(
      brokers.map((broker) => {
        const at = broker.lastIndexOf(':');
        return reachable(broker.slice(0, at), Number(broker.slice(at + 1)), 3000);
      }),
    );
    if (!answers.some(Boolean)) {
      throw new Error(
        `KAFKA_BROKERS=${given}: no broker answers. Start the cluster (npm run kafka:start starts one on localhost:9092), ` +
          'or unset KAFKA_BROKERS to let the tests start their own broker (tools/kafka).',
      );
    }
    console.log(`[brokers] Kafka: using KAFKA_BROKERS=${given}`);
    return;
  }
  started = await startKafka({ log: (line) => console.log(`[brokers] ${line.replace(/^\[kafka\] /, 'Kafka: ')}`) });
  process.env.KAFKA_BROKERS = started.bootstrap;
  process.env.LIGHTBUS_KAFKA_PID = String(started.pid);
  process.env.LIGHTBUS_KAFKA_DIR = started.dir;
}

async function teardown() {
  if (started) {
    await started.stop({ kill: true });
    started = undefined;
    delete process.env.KAFKA_BROKERS;
  } else if (process.env.LIGHTBUS_KAFKA_PID) {
    // global-teardown may load this file afresh: stop the broker by the pid setup() exported.
    await stopByPid(Number(process.env.LIGHTBUS_KAFKA_PID), { signal: 'SIGKILL' });
    if (process.env.LIGHTBUS_KAFKA_DIR) rmSync(process.env.LIGHTBUS_KAFKA_DIR, { recursive: true, force: true });
  }
  delete process.env.LIGHTBUS_KAFKA_PID;
  delete process.env.LIGHTBUS_KAFKA_DIR;
}

module.exports = { setup, teardown };
