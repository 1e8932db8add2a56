// The shop service's worker: listens to billing.charged, and calls billing.charge() for a few orders.
// Every call starts a trace: shop -> billing.charge() -> billing.charged -> this listener.
import lightbus from '@lightbus/core';
import { BillingApi } from './api';

const ORDERS = Number(process.env.ORDERS ?? 3);
export const bus = lightbus.create();
let seen = 0;

bus.api(BillingApi).charged.listen(
  ({ orderId, cents }) => {
    seen += 1;
    console.log(`order ${String(orderId)} charged ${String(cents)} cents (${seen}/${ORDERS})`);
    if (seen === ORDERS) console.log('all orders charged');
  },
  { listenerName: 'mark-paid' },
);

bus.client.on('onStart', () => {
  setImmediate(() => {
    void (async () => {
      for (let orderId = 1; orderId <= ORDERS; orderId += 1) {
        const result = await bus.api(BillingApi).charge({ orderId, cents: 1000 * orderId });
        console.log(`charge(${orderId}) -> ${result.status}`);
      }
    })().catch((error: unknown) => console.error('a call failed', error));
  });
});
