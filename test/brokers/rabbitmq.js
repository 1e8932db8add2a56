// RabbitMQ for the amqp transport's integration tests: 127.0.0.1:5672 (guest/guest),
// or LIGHTBUS_AMQP_URL. Started with `rabbitmq-server -detached` when it is not running
// (outside CI too); it takes a while to boot, hence the long wait. Left running afterwards:
// other test runs on this machine share it.
const { ensureBroker } = require('./ensure');

function target() {
  const url = new URL(process.env.LIGHTBUS_AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672/');
  return { host: url.hostname || '127.0.0.1', port: Number(url.port) || (url.protocol === 'amqps:' ? 5671 : 5672) };
}

async function setup() {
  const { host, port } = target();
  const local = host === '127.0.0.1' || host === 'localhost';
  await ensureBroker({ name: 'RabbitMQ', host, port, start: local ? 'rabbitmq-server -detached' : undefined, waitMs: 120000 });
}

module.exports = { setup };
