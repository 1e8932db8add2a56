// A client: calls procedures and listens for events. Run it beside a worker (`npm run client`),
// or let main.ts run both in one process on the memory transport.
import lightbus from '@lightbus/core';
import { SupportCaseApi } from './api';

export async function runClient(): Promise<void> {
  const bus = lightbus.create({ processName: 'quickstart-client' });
  try {
    // The path, as in Python Lightbus; typed because api.ts declares SupportCaseApi in BusApis.
    const found = await bus.support.case.get({ id: 123 });
    console.log('[client] bus.support.case.get({ id: 123 }) ->', found);

    // The same by class: parameters and result checked by the compiler.
    const created = await bus.api(SupportCaseApi).create({
      sender: 'ann@example.com',
      subject: 'Where is my order?',
      body: 'It has been a week.',
    });
    console.log(`[client] created case ${created.id}`);
  } finally {
    await bus.close();
  }
}

if (require.main === module) {
  runClient().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
