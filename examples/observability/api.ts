// Billing: a procedure that charges an order and fires `charged`.
import { Api, Event, type Bus } from '@lightbus/core';

export class BillingApi extends Api {
  static override meta = { name: 'billing' };

  readonly #bus: Bus;
  constructor(bus: Bus) {
    super();
    this.#bus = bus;
  }

  charged = new Event({ parameters: ['orderId', 'cents'] });

  async charge({ orderId, cents }: { orderId: number; cents: number }): Promise<{ orderId: number; status: string }> {
    await this.#bus.api(BillingApi).charged.fire({ orderId, cents });
    return { orderId, status: 'charged' };
  }
}
