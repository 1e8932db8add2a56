// Integration tests: make sure every broker they use is there, with the broker
// helpers of @lightbus/testing (Redis, RabbitMQ) and the files in test/brokers/
// (each exports `setup()` and optionally `teardown()`). A broker that cannot be
// reached fails the run. jest transforms this file and what it requires, so the
// helpers load from source: no build needed.
const { readdirSync } = require('node:fs');
const path = require('node:path');
const { rabbitmqBroker, redisBroker } = require('../packages/testing/src/brokers');

function brokers() {
  const dir = path.join(__dirname, 'brokers');
  const local = readdirSync(dir)
    .filter((file) => file.endsWith('.js') && file !== 'ensure.js')
    .sort()
    .map((file) => require(path.join(dir, file)));
  return [redisBroker(), rabbitmqBroker(), ...local];
}

module.exports = async () => {
  for (const broker of brokers()) await broker.setup();
};
module.exports.brokers = brokers;
