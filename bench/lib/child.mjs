// One benchmark process (a worker or a driver), started by bench/lib/harness.mjs with an IPC
// channel: `node bench/lib/child.mjs <module> <role>`, parameters in BENCH_PARAMS (JSON).
// The module's export named <role> returns the process's side of the work; this file speaks
// the harness's protocol around it and measures the process: CPU time (process.cpuUsage) since
// the last mark, resident set size now and at its peak (process.resourceUsage().maxRSS).
//
// worker(params, handled): starts serving; calls handled() once per event its listener ran;
//   returns { close() }.
// driver(params): returns { rpcSequential(count), rpcInFlight(count, inFlight), fire(count, inFlight), close() }.
import { pathToFileURL } from 'node:url';

const [modulePath, role] = process.argv.slice(2);
const params = JSON.parse(process.env.BENCH_PARAMS ?? '{}');
const send = (message) => process.send?.(message);

let expected = Number.POSITIVE_INFINITY;
let handledCount = 0;
const handled = () => {
  handledCount += 1;
  if (handledCount === expected) send({ type: 'handled', count: handledCount });
};

let mark = process.cpuUsage();
const stats = () => {
  const cpu = process.cpuUsage(mark);
  return {
    cpuMicros: cpu.user + cpu.system,
    rss: process.memoryUsage.rss(),
    maxRss: process.resourceUsage().maxRSS * 1024,
    heapUsed: process.memoryUsage().heapUsed,
  };
};

async function main() {
  const loaded = await import(pathToFileURL(modulePath).href);
  const side = await loaded[role](params, handled);
  process.on('message', (message) => {
    void (async () => {
      try {
        switch (message.type) {
          case 'mark':
            mark = process.cpuUsage();
            send({ type: 'marked' });
            break;
          case 'expect':
            expected = handledCount + message.count;
            send({ type: 'expecting' });
            break;
          case 'stats':
            send({ type: 'stats', stats: stats() });
            break;
          case 'run': {
            const result = await side[message.phase](message.count, message.inFlight);
            send({ type: 'ran', result: result ?? null });
            break;
          }
          case 'close':
            await side.close();
            process.disconnect();
            break;
          default:
            throw new Error(`unknown message ${JSON.stringify(message)}`);
        }
      } catch (error) {
        console.error(`bench ${role} (${modulePath}):`, error);
        process.exit(1);
      }
    })();
  });
  send({ type: 'ready', stats: stats() });
}

main().catch((error) => {
  console.error(`bench ${role} (${modulePath}) failed to start:`, error);
  process.exit(1);
});
