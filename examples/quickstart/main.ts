// The quickstart in one process: a worker and a client sharing the in-memory bus.
// With a lightbus.yaml naming Redis, run `npm run worker` and `npm run client` in two terminals instead.
import { bus } from './bus';
import { runClient } from './client';

async function main(): Promise<void> {
  const printed = new Promise<void>((resolve) => bus.client.on('afterEventExecution', () => resolve()));
  await bus.start(); // what `lightbus run` does: serve the API, start the listener
  await runClient();
  await printed; // the worker's listener has handled caseCreated
  await bus.close();
  console.log('[quickstart] done');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
