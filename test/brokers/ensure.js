// Shared by the broker checks in this folder: is something listening on host:port,
// and if not (outside CI), try the command that starts it, then wait for it.
const net = require('node:net');
const { spawnSync } = require('node:child_process');

function reachable(host, port, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

async function waitReachable(host, port, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await reachable(host, port)) return true;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return false;
}

/**
 * Make sure a broker listens on host:port. If not, run `start` (a shell command)
 * and wait up to `waitMs`. A broker that stays missing fails the test run (in CI
 * and locally alike): integration tests never skip silently.
 */
async function ensureBroker({ name, host, port, start, waitMs = 60000 }) {
  if (await reachable(host, port)) return;
  if (start) {
    console.log(`[brokers] ${name} is not running on ${host}:${port}; starting it: ${start}`);
    spawnSync('sh', ['-c', start], { stdio: 'inherit' });
    if (await waitReachable(host, port, waitMs)) return;
  }
  throw new Error(
    `${name} is not reachable on ${host}:${port}${start ? ` (tried: ${start})` : ''}. ` +
      `Integration tests need it: start it, or run only the unit tests with npm run test:unit.`,
  );
}

module.exports = { ensureBroker, reachable };
