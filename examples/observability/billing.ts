// The billing service's worker: `lightbus run --bus billing.ts`.
import lightbus from '@lightbus/core';
import { BillingApi } from './api';

export const bus = lightbus.create();
bus.client.registerApi(new BillingApi(bus));
