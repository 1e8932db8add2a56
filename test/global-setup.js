// Integration tests: make sure every broker they use is there. Each file in
// test/brokers/ (other than ensure.js) exports `setup()` and optionally
// `teardown()`; transport packages add theirs.
const { readdirSync } = require('node:fs');
const path = require('node:path');

function brokers() {
  const dir = path.join(__dirname, 'brokers');
  return readdirSync(dir)
    .filter((file) => file.endsWith('.js') && file !== 'ensure.js')
    .sort()
    .map((file) => require(path.join(dir, file)));
}

module.exports = async () => {
  for (const broker of brokers()) await broker.setup();
};
module.exports.brokers = brokers;
