// The API: a plain class, no transport in sight.
import { Api, Event, type Bus } from '@lightbus/core';

export interface SupportCase {
  id: number;
  sender: string;
  subject: string;
  body: string;
}

const cases = new Map<number, SupportCase>([
  [123, { id: 123, sender: 'joe@example.com', subject: 'I need support please!', body: 'My widget is broken.' }],
]);

export class SupportCaseApi extends Api {
  static override meta = { name: 'support.case' };

  // The bus this API is registered on, to fire its events. `#private`: not a procedure.
  readonly #bus: Bus;
  constructor(bus: Bus) {
    super();
    this.#bus = bus;
  }

  // An event, available at bus.support.case.caseCreated
  caseCreated = new Event({ parameters: ['id', 'sender', 'subject', 'body'] });

  // A procedure, available at bus.support.case.get()
  async get({ id }: { id: number }): Promise<SupportCase | null> {
    return cases.get(id) ?? null;
  }

  // Creating a case stores it and tells everyone who listens.
  async create({ sender, subject, body }: Omit<SupportCase, 'id'>): Promise<SupportCase> {
    const supportCase = { id: cases.size + 123, sender, subject, body };
    cases.set(supportCase.id, supportCase);
    await this.#bus.api(SupportCaseApi).caseCreated.fire(supportCase);
    return supportCase;
  }
}

// Tell TypeScript which APIs are on the bus, by name: `bus.support.case.get()` is
// then typed in every module (also under noUncheckedIndexedAccess).
declare module '@lightbus/core' {
  interface BusApis {
    'support.case': SupportCaseApi;
  }
}
