// Redis for the integration tests of @lightbus/redis: 127.0.0.1:6379 (REDIS_URL
// overrides it). Started if missing, as CI does; never flushed, never stopped:
// other test runs share it, so each test works in keys of its own.
const { ensureBroker } = require('./ensure');

const url = new URL(process.env.REDIS_URL || 'redis://127.0.0.1:6379/0');

module.exports = {
  async setup() {
    await ensureBroker({
      name: 'Redis',
      host: url.hostname,
      port: Number(url.port || 6379),
      start:
        url.hostname === '127.0.0.1' || url.hostname === 'localhost'
          ? `redis-server --daemonize yes --bind 127.0.0.1 --port ${url.port || 6379} --save "" --appendonly no`
          : undefined,
    });
  },
};
