// Stops what test/global-setup.js started (brokers the tests launched themselves).
const { brokers } = require('./global-setup');

module.exports = async () => {
  for (const broker of brokers()) if (broker.teardown) await broker.teardown();
};
