// One process on the memory transport: the worker, a client typed from the class,
// and a client typed from generated types (as a service without the class would be).
import lightbus, { RemoteError, ValidationError } from '@lightbus/core';
import { ShopApi } from './api';
import { bus as worker } from './bus';
import type { LightbusApis } from './generated/bus-types';

async function main(): Promise<void> {
  const logged = new Promise<void>((resolve) => worker.client.on('afterEventExecution', () => resolve()));
  await worker.start();

  const client = lightbus.create<LightbusApis>();
  try {
    // Typed from the class: totalCents is a bigint both ways, placed a Date.
    const order = await client.api(ShopApi).place({ customer: 'ann', totalCents: 12_999n });
    console.log(
      `[client] placed order ${order.id}: ${order.totalCents} cents, placed is a Date: ${order.placed instanceof Date}`,
    );

    // Typed from generated types (lightbus codegen): no class needed.
    const again = await client.shop.orders.get({ id: order.id });
    console.log(`[client] get -> ${again?.customer}, status ${again?.status}`);

    // Validation: refused before anything is sent, naming the parameter and the rule.
    await client.shop.orders.place({ customer: '', totalCents: 1n }).catch((error: unknown) => {
      if (error instanceof ValidationError || error instanceof RemoteError) console.log(`[client] ${error.message}`);
      else throw error;
    });
    await logged;
  } finally {
    await client.close();
    await worker.close();
  }
  console.log('[typed-shop] done');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
