// Start and stop librdkafka's mock Kafka cluster (rdkafka-mock-broker.py, beside this
// file) from Node: used by test/brokers/kafka.js (the test run's broker), by tests that
// need a broker of their own (to take it down), and by bench/kafka.ts.
// Needs python3 and the Debian package librdkafka1 (.ci/run installs it).
'use strict';
const { spawn } = require('node:child_process');
const { existsSync, mkdtempSync, readFileSync, rmSync } = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');

const SCRIPT = path.join(__dirname, 'rdkafka-mock-broker.py');

function python() {
  if (process.env.PYTHON) return process.env.PYTHON;
  return existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
}

/**
 * Start a mock cluster. Resolves with { bootstrap, control, pid, stop(), setBrokerDown(id, down) }
 * once it answers; rejects with its output when it cannot start (librdkafka1 missing, ...).
 */
function startMock({ brokers = 1, topics = [], timeoutMs = 10000 } = {}) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lightbus-kafka-mock-'));
  const bootstrapFile = path.join(dir, 'bootstrap');
  const args = [SCRIPT, '--brokers', String(brokers), '--bootstrap-file', bootstrapFile, '--control-port', '0', '--exit-with-parent'];
  for (const topic of topics) args.push('--topic', topic);
  const child = spawn(python(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  // The mock must not keep the parent alive, nor outlive it when the parent is killed.
  child.unref();
  child.stdout.unref?.();
  child.stderr.unref?.();

  let stopping;
  const stop = () => {
    stopping ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    })();
    return stopping;
  };

  return new Promise((resolve, reject) => {
    const deadline = Date.now() + timeoutMs;
    const poll = () => {
      if (child.exitCode !== null || child.signalCode !== null) {
        rmSync(dir, { recursive: true, force: true });
        return reject(
          new Error(
            `The Kafka mock broker exited at start (${child.exitCode ?? child.signalCode}). Is librdkafka1 installed ` +
              `(apt-get install -y --no-install-recommends librdkafka1) and python3 on the PATH? Its output:\n${output}`,
          ),
        );
      }
      const bootstrap = existsSync(bootstrapFile) ? readFileSync(bootstrapFile, 'utf8').trim() : '';
      const control = /control=(http:\/\/[0-9.:]+)/.exec(output)?.[1];
      if (bootstrap && control) {
        const setBrokerDown = (id, down) => post(`${control}/brokers/${id}/${down ? 'down' : 'up'}`);
        const createTopic = (topic, partitions) => post(`${control}/topics`, { topic, partitions });
        return resolve({ bootstrap, control, pid: child.pid, stop, setBrokerDown, createTopic, output: () => output });
      }
      if (Date.now() > deadline) {
        void stop();
        return reject(new Error(`The Kafka mock broker did not start within ${timeoutMs} ms. Its output:\n${output}`));
      }
      setTimeout(poll, 20);
    };
    poll();
  });
}

function post(url, body) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? '' : JSON.stringify(body);
    const request = http.request(url, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } }, (response) => {
      let text = '';
      response.on('data', (chunk) => (text += chunk));
      response.on('end', () => (response.statusCode && response.statusCode < 300 ? resolve(JSON.parse(text || '{}')) : reject(new Error(`${url}: ${response.statusCode} ${text}`))));
    });
    request.on('error', reject);
    request.end(data);
  });
}

/** Stop a mock by pid (for a teardown in another module instance): SIGTERM, only that pid. */
function stopMockByPid(pid) {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    // already gone
  }
}

module.exports = { startMock, stopMockByPid };
