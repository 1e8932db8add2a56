// The worker of the operator-tool tests (lightbus deadletters, inspect, shell) on a real broker: the API named
// by OPS_API serves `add` and has the event `created`, whose listener `notify` refuses (as poison) an event with
// `poison: true` until the file OPS_FIXED_FILE exists, and prints `handled <id>` for every event it handles.
import { existsSync } from 'node:fs';
import lightbus, { Api, Event, MessageRejectedError } from '@lightbus/core';

const apiName = process.env.OPS_API;
if (!apiName) throw new Error('OPS_API must name the API');

class OpsApi extends Api {
  static override meta = { name: apiName! };
  created = new Event({ parameters: ['id', 'poison'] });
  add({ a, b }: { a: number; b: number }): number {
    return a + b;
  }
}

export const bus = lightbus.create();
bus.client.registerApi(new OpsApi());
bus.client.listen(
  [[apiName, 'created']],
  (params) => {
    const { id, poison } = params as { id: number; poison: boolean };
    if (poison && !existsSync(process.env.OPS_FIXED_FILE ?? '')) throw new MessageRejectedError(`poison ${id}`);
    console.log(`handled ${id}`);
  },
  { listenerName: 'notify' },
);
