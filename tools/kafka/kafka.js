#!/usr/bin/env node
// Apache Kafka for the tests, the benchmarks and the Kafka quickstart: a single-node
// KRaft broker (broker and controller in one JVM) on 127.0.0.1, run from the jars that
// pom.xml (beside this file) resolves from Maven Central into ~/.m2.
//
//   node tools/kafka/kafka.js start [--port 9092] [--dir DIR]   start in the background, print its address
//   node tools/kafka/kafka.js stop [--port 9092] [--dir DIR]    stop the broker that `start` started
//   node tools/kafka/kafka.js classpath                         resolve the artifacts (Maven), print the classpath
//
// From Node: `startKafkaCluster()` starts a KRaft cluster of three such nodes (bench/kafka-failover.ts).
// `startKafka()` resolves with { bootstrap, pid, stop(), down(), up() } once the
// broker answers a Metadata request; test/global-setup.js (through @lightbus/testing's kafkaBroker) and bench/kafka.ts use it.
// Needs Java 17+ (`java` on the PATH or JAVA_HOME) and Maven (`mvn`) for the first resolution.
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const { createHash, randomBytes } = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const HERE = __dirname;
const POM = path.join(HERE, 'pom.xml');
const TARGET = path.join(HERE, 'target');
const CLASSPATH_FILE = path.join(TARGET, 'classpath.txt');
const HOST = '127.0.0.1';
const NODE_ID = 1;

/** The Kafka version pom.xml pins (for messages and docs). */
function kafkaVersion() {
  return /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(fs.readFileSync(POM, 'utf8'))?.[1] ?? 'unknown';
}

function java() {
  return process.env.JAVA_HOME ? path.join(process.env.JAVA_HOME, 'bin', 'java') : 'java';
}

/**
 * The broker's runtime classpath. Runs `mvn dependency:build-classpath` on pom.xml the first
 * time (and whenever pom.xml changed or a jar went missing from ~/.m2); the result is kept in
 * target/classpath.txt beside the hash of the pom it came from.
 */
function classpath({ log = () => {} } = {}) {
  const pomHash = createHash('sha256').update(fs.readFileSync(POM)).digest('hex');
  const hashFile = `${CLASSPATH_FILE}.pom-sha256`;
  if (
    fs.existsSync(CLASSPATH_FILE) &&
    fs.existsSync(hashFile) &&
    fs.readFileSync(hashFile, 'utf8').trim() === pomHash
  ) {
    const cached = fs.readFileSync(CLASSPATH_FILE, 'utf8').trim();
    if (cached && cached.split(path.delimiter).every((jar) => fs.existsSync(jar))) return cached;
  }
  fs.mkdirSync(TARGET, { recursive: true });
  // Several runs may resolve at once: each writes its own file, then renames it into place.
  const output = path.join(TARGET, `classpath.${process.pid}.tmp`);
  log(
    `[kafka] resolving Apache Kafka ${kafkaVersion()} from Maven Central (mvn dependency:build-classpath; cached in ~/.m2)`,
  );
  const started = Date.now();
  const mvn = spawnSync('mvn', ['-B', '-q', '-f', POM, 'dependency:build-classpath', `-Dmdep.outputFile=${output}`], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (mvn.error || mvn.status !== 0 || !fs.existsSync(output)) {
    fs.rmSync(output, { force: true });
    const why = mvn.error
      ? `${mvn.error.message} (is Maven installed? apt-get install -y maven)`
      : `${mvn.stdout}${mvn.stderr}`.trim().slice(-4000);
    throw new Error(`Could not resolve Apache Kafka's jars with Maven (tools/kafka/pom.xml): ${why}`);
  }
  const resolved = fs.readFileSync(output, 'utf8').trim();
  fs.renameSync(output, CLASSPATH_FILE);
  fs.writeFileSync(hashFile, `${pomHash}\n`);
  log(
    `[kafka] resolved ${resolved.split(path.delimiter).length} jars in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  return resolved;
}

/** A port free on 127.0.0.1 now (the broker binds it a moment later). */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function serverProperties({ dataDir, port, controllerPort, config, nodeId = NODE_ID, voters }) {
  const settings = {
    'process.roles': 'broker,controller',
    'node.id': String(nodeId),
    'controller.quorum.voters': voters ?? `${nodeId}@${HOST}:${controllerPort}`,
    listeners: `PLAINTEXT://${HOST}:${port},CONTROLLER://${HOST}:${controllerPort}`,
    'advertised.listeners': `PLAINTEXT://${HOST}:${port}`,
    'controller.listener.names': 'CONTROLLER',
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'inter.broker.listener.name': 'PLAINTEXT',
    'log.dirs': dataDir,
    // One node: every internal topic has one replica, and one partition where that is a choice.
    'offsets.topic.replication.factor': '1',
    'offsets.topic.num.partitions': '1',
    'transaction.state.log.replication.factor': '1',
    'transaction.state.log.min.isr': '1',
    'share.coordinator.state.topic.replication.factor': '1',
    'share.coordinator.state.topic.min.isr': '1',
    // A group's first join is not held back 3 s waiting for more members.
    'group.initial.rebalance.delay.ms': '0',
    // Tests may use short session timeouts to see a killed consumer's partitions move.
    'group.min.session.timeout.ms': '1000',
    // Applications that fire before anything listens still have a topic (the transport
    // also creates its topics with CreateTopics and the configured partitions).
    'auto.create.topics.enable': 'true',
    'num.partitions': '1',
    ...config,
  };
  return `${Object.entries(settings)
    .map(([key, value]) => `${key}=${value}`)
    .join('\n')}\n`;
}

/** A Metadata (v4) request over a plain socket: resolves with the brokers and cluster id, or rejects. */
function metadata(host, port, timeoutMs = 2000) {
  return new Promise((resolve, reject) => {
    const clientId = Buffer.from('lightbus-tools-kafka');
    const body = Buffer.alloc(2 + 2 + 4 + 2 + clientId.length + 4 + 1);
    let at = 0;
    at = body.writeInt16BE(3, at); // api key: Metadata
    at = body.writeInt16BE(4, at); // version 4 (Kafka 4 serves 4..13)
    at = body.writeInt32BE(1, at); // correlation id
    at = body.writeInt16BE(clientId.length, at);
    at += clientId.copy(body, at);
    at = body.writeInt32BE(0, at); // no topics
    body.writeInt8(0, at); // allow_auto_topic_creation: false
    const size = Buffer.alloc(4);
    size.writeInt32BE(body.length);

    const socket = net.connect({ host, port });
    let received = Buffer.alloc(0);
    const finish = (error, value) => {
      socket.destroy();
      if (error) reject(error);
      else resolve(value);
    };
    socket.setTimeout(timeoutMs, () => finish(new Error('no answer')));
    socket.once('error', (error) => finish(error));
    socket.once('connect', () => socket.write(Buffer.concat([size, body])));
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      if (received.length < 4 || received.length < 4 + received.readInt32BE(0)) return;
      try {
        let p = 8; // size, correlation id
        p += 4; // throttle_time_ms
        const count = received.readInt32BE(p);
        p += 4;
        const brokers = [];
        for (let i = 0; i < count; i += 1) {
          const nodeId = received.readInt32BE(p);
          p += 4;
          const hostLength = received.readInt16BE(p);
          p += 2;
          const brokerHost = received.toString('utf8', p, p + hostLength);
          p += hostLength;
          const brokerPort = received.readInt32BE(p);
          p += 4;
          const rackLength = received.readInt16BE(p);
          p += 2 + Math.max(rackLength, 0);
          brokers.push({ nodeId, host: brokerHost, port: brokerPort });
        }
        const clusterLength = received.readInt16BE(p);
        p += 2;
        const clusterId = clusterLength < 0 ? null : received.toString('utf8', p, p + clusterLength);
        finish(undefined, { brokers, clusterId });
      } catch (error) {
        finish(error);
      }
    });
  });
}

function alive(pid) {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // A killed process whose parent has not reaped it yet is a zombie: gone for our purposes.
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

function tail(file, lines = 40) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitExit(pid, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (alive(pid)) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

/** Stop a broker by pid: SIGTERM (a clean shutdown), SIGKILL after `graceMs`; resolves once it is gone. */
async function stopByPid(pid, { graceMs = 15000, signal = 'SIGTERM' } = {}) {
  if (!alive(pid)) return;
  try {
    process.kill(pid, signal);
  } catch {
    return;
  }
  if (!(await waitExit(pid, graceMs))) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
    await waitExit(pid, 5000);
  }
}

/**
 * Start a broker and resolve once it answers a Metadata request with itself in it.
 * - port / controllerPort: 0 (the default) picks free ones;
 * - dir: where its data, config and log live; a new temporary directory by default,
 *   removed by stop() (a given dir is kept, and a broker formatted there before starts
 *   on its old data);
 * - exitWithParent: a small watchdog kills the broker when this Node process ends
 *   without stopping it (a killed test run leaves no JVM behind); `start` from the
 *   command line turns it off;
 * - config: extra server.properties settings; heap: the JVM's -Xmx (default 512m).
 */
async function startKafka({
  port = 0,
  controllerPort = 0,
  dir,
  exitWithParent = true,
  config = {},
  heap = process.env.LIGHTBUS_KAFKA_HEAP || '512m',
  timeoutMs = 120000,
  log = () => {},
  // A node of a cluster (startKafkaCluster): its id, every node's controller, the cluster id to format with.
  nodeId = NODE_ID,
  voters,
  clusterId: givenClusterId,
} = {}) {
  const cp = classpath({ log });
  const ownDir = !dir;
  const home = dir ? path.resolve(dir) : fs.mkdtempSync(path.join(os.tmpdir(), 'lightbus-kafka-'));
  fs.mkdirSync(home, { recursive: true });
  const dataDir = path.join(home, 'data');
  const propertiesFile = path.join(home, 'server.properties');
  const logFile = path.join(home, 'broker.log');
  const brokerPort = port || (await freePort());
  const quorumPort = controllerPort || (await freePort());
  fs.writeFileSync(
    propertiesFile,
    serverProperties({ dataDir, port: brokerPort, controllerPort: quorumPort, config, nodeId, voters }),
  );

  const jvm = [
    `-Xmx${heap}`,
    '-Xms64m',
    '-XX:+UseSerialGC',
    '-XX:+ExitOnOutOfMemoryError',
    '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${path.join(HERE, 'log4j2.yaml')}`,
    '-cp',
    cp,
  ];

  if (!fs.existsSync(path.join(dataDir, 'meta.properties'))) {
    // KRaft storage must be formatted once with a cluster id (16 random bytes, base64url). One that
    // starts with '-' would be read as an option by the storage tool (as Kafka's own ids never do).
    let clusterId = givenClusterId ?? randomBytes(16).toString('base64url');
    while (clusterId.startsWith('-')) clusterId = randomBytes(16).toString('base64url');
    const format = spawnSync(
      java(),
      [...jvm, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', propertiesFile],
      { encoding: 'utf8' },
    );
    if (format.error || format.status !== 0) {
      if (ownDir) fs.rmSync(home, { recursive: true, force: true });
      const why = format.error
        ? `${format.error.message} (is Java 17+ installed?)`
        : `${format.stdout}${format.stderr}`.trim();
      throw new Error(`Could not format the Kafka broker's storage in ${dataDir}: ${why}`);
    }
  }

  let child;
  let watchdog;
  const bootstrap = `${HOST}:${brokerPort}`;

  const launch = async () => {
    const out = fs.openSync(logFile, 'a');
    child = spawn(java(), [...jvm, 'kafka.Kafka', propertiesFile], {
      stdio: ['ignore', out, out],
      detached: !exitWithParent,
    });
    fs.closeSync(out);
    child.unref();
    fs.writeFileSync(path.join(home, 'broker.pid'), `${child.pid}\n`);
    if (exitWithParent) {
      watchdog = spawn(
        process.execPath,
        [__filename, 'watch', String(process.pid), String(child.pid), ownDir ? home : ''],
        {
          stdio: 'ignore',
          detached: true,
        },
      );
      watchdog.unref();
    }
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null || !alive(child.pid)) {
        throw new Error(
          `The Kafka broker exited while starting (${child.exitCode ?? child.signalCode}). Its log (${logFile}):\n${tail(logFile)}`,
        );
      }
      try {
        const answer = await metadata(HOST, brokerPort);
        if (answer.brokers.some((b) => b.nodeId === nodeId)) return answer;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        await stopByPid(child.pid, { signal: 'SIGKILL' });
        throw new Error(
          `The Kafka broker did not answer on ${bootstrap} within ${timeoutMs} ms. Its log (${logFile}):\n${tail(logFile)}`,
        );
      }
      await sleep(100);
    }
  };

  const halt = async (signal) => {
    if (child) await stopByPid(child.pid, { signal });
    if (watchdog && alive(watchdog.pid)) {
      try {
        process.kill(watchdog.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    watchdog = undefined;
  };

  const started = Date.now();
  let answer;
  try {
    answer = await launch();
  } catch (error) {
    await halt('SIGKILL');
    if (ownDir) fs.rmSync(home, { recursive: true, force: true });
    throw error;
  }
  log(
    `[kafka] Apache Kafka ${kafkaVersion()} answers at ${bootstrap} (pid ${child.pid}, cluster ${answer.clusterId}) after ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );

  let stopping;
  return {
    bootstrap,
    host: HOST,
    port: brokerPort,
    dir: home,
    version: kafkaVersion(),
    get pid() {
      return child.pid;
    },
    /** Stop it (SIGTERM: a clean shutdown; `{ kill: true }` for SIGKILL) and remove its temporary directory. */
    stop({ kill = false } = {}) {
      stopping ??= (async () => {
        await halt(kill ? 'SIGKILL' : 'SIGTERM');
        if (ownDir) fs.rmSync(home, { recursive: true, force: true });
      })();
      return stopping;
    },
    /** Take the broker away (its process stops; data and ports are kept) until up(). */
    down({ kill = false } = {}) {
      return halt(kill ? 'SIGKILL' : 'SIGTERM');
    },
    /** Start it again after down(), on the same ports and data. */
    async up() {
      await launch();
    },
    log: () => tail(logFile, 200),
  };
}

/**
 * A KRaft cluster of `size` nodes (each broker and controller in one JVM) on 127.0.0.1, for the
 * failover benchmark: internal topics and new topics replicated on 3 nodes with
 * min.insync.replicas 2 (fewer nodes: all of them). Resolves once every node answers; `nodes`
 * are startKafka()'s handles (down(), up(), stop()), `stop()` stops them all.
 */
async function startKafkaCluster({ size = 3, heap = '384m', log = () => {}, config = {} } = {}) {
  const ports = [];
  while (ports.length < size * 2) {
    const port = await freePort();
    if (!ports.includes(port)) ports.push(port);
  }
  const voters = Array.from({ length: size }, (_, i) => `${i + 1}@${HOST}:${ports[size + i]}`).join(',');
  let clusterId = randomBytes(16).toString('base64url');
  while (clusterId.startsWith('-')) clusterId = randomBytes(16).toString('base64url');
  const replicas = String(Math.min(3, size));
  const minIsr = String(Math.min(2, size));
  const settings = {
    'offsets.topic.replication.factor': replicas,
    'offsets.topic.num.partitions': '3',
    'transaction.state.log.replication.factor': replicas,
    'transaction.state.log.min.isr': minIsr,
    'share.coordinator.state.topic.replication.factor': replicas,
    'share.coordinator.state.topic.min.isr': minIsr,
    'default.replication.factor': replicas,
    'min.insync.replicas': minIsr,
    ...config,
  };
  // The quorum needs a majority of the controllers: the nodes start together.
  const started = await Promise.allSettled(
    Array.from({ length: size }, (_, i) =>
      startKafka({
        port: ports[i],
        controllerPort: ports[size + i],
        nodeId: i + 1,
        voters,
        clusterId,
        heap,
        config: settings,
        log,
      }),
    ),
  );
  const nodes = started.filter((s) => s.status === 'fulfilled').map((s) => s.value);
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) {
    await Promise.all(nodes.map((node) => node.stop({ kill: true })));
    throw failed.reason;
  }
  return {
    nodes,
    brokers: nodes.map((node) => node.bootstrap),
    version: kafkaVersion(),
    stop: () => Promise.all(nodes.map((node) => node.stop({ kill: true }))).then(() => undefined),
  };
}

// --- command line ---------------------------------------------------------------------

function option(args, name, fallback) {
  const at = args.indexOf(name);
  return at >= 0 && args[at + 1] !== undefined ? args[at + 1] : fallback;
}

function defaultDir(port) {
  return path.join(os.tmpdir(), `lightbus-kafka-${port}`);
}

async function main(argv) {
  const [command, ...args] = argv;
  const port = Number(option(args, '--port', process.env.KAFKA_PORT || '9092'));
  const dir = option(args, '--dir', defaultDir(port));
  switch (command) {
    case 'classpath':
      process.stdout.write(`${classpath({ log: (line) => console.error(line) })}\n`);
      return;
    case 'start': {
      const pidFile = path.join(dir, 'broker.pid');
      if (fs.existsSync(pidFile) && alive(Number(fs.readFileSync(pidFile, 'utf8')))) {
        console.log(
          `Kafka is already running at ${HOST}:${port} (pid ${fs.readFileSync(pidFile, 'utf8').trim()}, data in ${dir}).`,
        );
        return;
      }
      const broker = await startKafka({ port, dir, exitWithParent: false, log: (line) => console.log(line) });
      console.log(
        `Kafka ${broker.version} is running at ${broker.bootstrap} (pid ${broker.pid}); data and broker.log in ${dir}.`,
      );
      console.log(
        `Stop it with: node tools/kafka/kafka.js stop${port === 9092 ? '' : ` --port ${port}`}   (or npm run kafka:stop)`,
      );
      return;
    }
    case 'stop': {
      const pidFile = path.join(dir, 'broker.pid');
      const pid = fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, 'utf8')) : 0;
      if (!pid || !alive(pid)) {
        console.log(`No Kafka started by this tool is running for port ${port} (${pidFile}).`);
        return;
      }
      await stopByPid(pid);
      fs.rmSync(pidFile, { force: true });
      console.log(`Stopped Kafka (pid ${pid}); its data stays in ${dir} (delete the folder to start afresh).`);
      return;
    }
    case 'watch': {
      // Internal: kill the broker `brokerPid` when `parentPid` ends; then remove `dir` (if given).
      const [parentPid, brokerPid, removeDir] = args;
      const timer = setInterval(() => {
        if (!alive(Number(brokerPid))) {
          clearInterval(timer);
          return;
        }
        if (!alive(Number(parentPid))) {
          clearInterval(timer);
          try {
            process.kill(Number(brokerPid), 'SIGKILL');
          } catch {
            // gone
          }
          void waitExit(Number(brokerPid), 10000).then(() => {
            if (removeDir) fs.rmSync(removeDir, { recursive: true, force: true });
          });
        }
      }, 500);
      return;
    }
    default:
      console.error('usage: node tools/kafka/kafka.js start|stop [--port 9092] [--dir DIR] | classpath');
      process.exitCode = 2;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}

module.exports = { startKafka, startKafkaCluster, stopByPid, classpath, kafkaVersion, metadata };
