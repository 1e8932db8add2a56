// An API with typed declarations: one TypeBox declaration gives the static types
// and the JSON Schema shared on the bus.
import { Api, Event, Type, Wire, procedure, type Bus, type Static } from '@lightbus/core';

export const Order = Type.Object({
  id: Type.Integer(),
  customer: Type.String({ minLength: 1 }),
  placed: Wire.Date(), // a Date here, ISO 8601 text on the wire
  totalCents: Wire.BigInt(), // a bigint here, decimal text on the wire
  status: Type.Union([Type.Literal('open'), Type.Literal('shipped')]),
});
export type Order = Static<typeof Order>;

export class ShopApi extends Api {
  static override meta = { name: 'shop.orders' };

  orderPlaced = new Event({
    parameters: Type.Object({
      id: Type.Integer(),
      customer: Type.String(),
      at: Wire.Date(),
      channel: Type.Optional(Type.String({ default: 'web' })),
    }),
  });

  readonly #orders = new Map<number, Order>();
  readonly #bus: Bus;
  constructor(bus: Bus) {
    super();
    this.#bus = bus;
  }

  place = procedure(
    {
      parameters: Type.Object({ customer: Type.String({ minLength: 1 }), totalCents: Wire.BigInt() }),
      response: Order,
    },
    async ({ customer, totalCents }) => {
      const order: Order = { id: this.#orders.size + 1, customer, placed: new Date(), totalCents, status: 'open' };
      this.#orders.set(order.id, order);
      await this.#bus.api(ShopApi).orderPlaced.fire({ id: order.id, customer, at: order.placed });
      return order;
    },
  );

  get = procedure(
    { parameters: Type.Object({ id: Type.Integer() }), response: Type.Union([Order, Type.Null()]) },
    ({ id }) => this.#orders.get(id) ?? null,
  );
}
