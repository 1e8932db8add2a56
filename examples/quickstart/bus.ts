// The worker's bus module: `npx lightbus run --bus bus.ts` serves the API and runs the listener.
import lightbus from '@lightbus/core';
import { SupportCaseApi } from './api';

export const bus = lightbus.create(); // lightbus.yaml (if any) picks the transports; none means memory

bus.client.registerApi(new SupportCaseApi(bus));

bus.api(SupportCaseApi).caseCreated.listen(
  ({ id, subject }) => {
    console.log(`[worker] case ${String(id)} created: ${String(subject)}`);
  },
  { listenerName: 'print-new-cases' },
);
