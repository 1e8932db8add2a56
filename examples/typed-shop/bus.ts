// The worker: `npm run worker` (lightbus run --bus bus.ts).
import lightbus from '@lightbus/core';
import { ShopApi } from './api';

export const bus = lightbus.create();
bus.client.registerApi(new ShopApi(bus));

bus.api(ShopApi).orderPlaced.listen(
  ({ id, customer, at, channel }) => {
    // `at` arrives as a Date, `channel` got its default: conversions follow the schema.
    console.log(`[worker] order ${id} for ${customer} at ${at.toISOString()} via ${channel ?? '?'}`);
  },
  { listenerName: 'log-orders' },
);
