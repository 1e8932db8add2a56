/** `lightbus init`'s TypeScript: the API class, the worker's bus module and a client script. */
import type { InitTransport } from './transports';

/** `support` -> `Support`, `order-history` -> `OrderHistory`: the API class's name. */
function className(service: string): string {
  const words = service.split(/[^A-Za-z0-9]+/).filter(Boolean);
  const name = words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
  return /^[A-Za-z]/.test(name) ? name : `Service${name}`;
}

export interface ApiNames {
  /** The API's name on the bus, e.g. `support.greetings`. */
  readonly api: string;
  /** The API class, e.g. `SupportGreetingsApi`. */
  readonly cls: string;
}

export function apiNames(service: string): ApiNames {
  return { api: `${service}.greetings`, cls: `${className(service)}GreetingsApi` };
}

export function apiTs({ api, cls }: ApiNames): string {
  return `// api.ts: what this service offers on the bus. Procedures are the class's methods, each taking
// one object of named parameters; events are its Event properties. Nothing here names a
// transport: lightbus.yaml decides that.
import { Api, Event, type Bus } from '@lightbus/core';

export class ${cls} extends Api {
  static override meta = { name: '${api}' };

  greeted = new Event({ parameters: ['name', 'greeting'] });

  readonly #bus: Bus; // #private: not a procedure
  constructor(bus: Bus) {
    super();
    this.#bus = bus;
  }

  async greet({ name }: { name: string }): Promise<string> {
    const greeting = \`Hello, \${name}!\`;
    await this.#bus.api(${cls}).greeted.fire({ name, greeting });
    return greeting;
  }
}

// The APIs on the bus, by name: makes bus.api('${api}') (and the dynamic path) typed everywhere.
declare module '@lightbus/core' {
  interface BusApis {
    '${api}': ${cls};
  }
}
`;
}

export function busTs({ cls }: ApiNames): string {
  return `// bus.ts: the worker's bus module. \`npm start\` (lightbus run --bus bus.ts) serves the APIs
// registered here and runs the listeners.
import lightbus from '@lightbus/core';
import { ${cls} } from './api.js';

export const bus = lightbus.create();
bus.client.registerApi(new ${cls}(bus));

bus.api(${cls}).greeted.listen(({ greeting }) => console.log(\`greeted: \${greeting}\`), {
  listenerName: 'print-greetings',
});
`;
}

export function clientTs({ cls }: ApiNames, transport: InitTransport): string {
  const call = `const greeting = await bus.api(${cls}).greet({ name: process.argv[2] ?? 'world' });
console.log(\`reply: \${greeting}\`);
await bus.close();
`;
  if (transport === 'memory') {
    return `// client.ts: calls the API. \`npm run client -- Ann\`
// The memory transport reaches only buses in the same process, so this script serves the API
// itself (bus.start(), what the worker does). With Redis, RabbitMQ or Kafka in lightbus.yaml
// (lightbus init --transport redis), the client is a process of its own and \`npm start\` the worker.
import { bus } from './bus.js';
import { ${cls} } from './api.js';

await bus.start();
${call}`;
  }
  return `// client.ts: calls the API served by the worker (\`npm start\` in another terminal).
// \`npm run client -- Ann\`
import lightbus from '@lightbus/core';
import { ${cls} } from './api.js';

const bus = lightbus.create();
${call}`;
}
