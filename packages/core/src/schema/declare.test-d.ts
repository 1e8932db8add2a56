/**
 * Compile-time tests of typed declarations: `npm run typecheck` fails if a
 * @ts-expect-error line compiles or a plain line does not.
 */
import { Api, Event, Type, Wire, create, procedure, type EventClient, type CallOptions } from '..';

const Order = Type.Object({
  id: Type.Integer(),
  placed: Wire.Date(),
  total: Wire.BigInt(),
  note: Type.Optional(Type.String()),
});

class ShopApi extends Api {
  static override meta = { name: 'shop' };

  orderPlaced = new Event({
    parameters: Type.Object({ id: Type.Integer(), at: Wire.Date(), coupon: Type.Optional(Type.String()) }),
  });

  getOrder = procedure({ parameters: Type.Object({ id: Type.Integer() }), response: Order }, async ({ id }) => ({
    id,
    placed: new Date(),
    total: 10n,
  }));

  // @ts-expect-error the implementation must return what the response declares
  badOrder = procedure({ parameters: Type.Object({ id: Type.Integer() }), response: Order }, async ({ id }) => ({
    id,
  }));

  // @ts-expect-error the implementation's parameters come from the schema: 'name' is not declared
  badParams = procedure({ parameters: Type.Object({ id: Type.Integer() }) }, ({ name }: { name: string }) => name);
}

export async function typedDeclarations(): Promise<void> {
  const bus = create();
  const shop = bus.api(ShopApi);

  const order = await shop.getOrder({ id: 1 });
  const placed: Date = order.placed;
  const total: bigint = order.total;
  const note: string | undefined = order.note;
  void placed;
  void total;
  void note;
  // @ts-expect-error wrong parameter type
  await shop.getOrder({ id: 'one' });
  // @ts-expect-error missing parameter
  await shop.getOrder({});

  await shop.orderPlaced.fire({ id: 1, at: new Date() });
  await shop.orderPlaced.fire({ id: 1, at: new Date(), coupon: 'X' });
  // @ts-expect-error at must be a Date
  await shop.orderPlaced.fire({ id: 1, at: '2026-01-01' });
  // @ts-expect-error unknown parameter
  await shop.orderPlaced.fire({ id: 1, at: new Date(), extra: 1 });
  shop.orderPlaced.listen(
    ({ id, at, coupon }) => {
      const n: number = id;
      const d: Date = at;
      const c: string | undefined = coupon;
      void n;
      void d;
      void c;
    },
    { listenerName: 'typed' },
  );
}

/** What `lightbus codegen` writes, by hand: an API known only by its schema. */
interface GeneratedApis {
  'support.case': {
    get(params: { id: number }, options?: CallOptions): Promise<{ id: number; subject: string }>;
    readonly caseCreated: EventClient<{ id: number; sender: string }>;
  };
  'support.agent': { ping(params?: Record<string, never>, options?: CallOptions): Promise<string> };
}

export async function generatedTypes(): Promise<void> {
  const bus = create<GeneratedApis>();
  const found = await bus.support.case.get({ id: 1 });
  const subject: string = found.subject;
  void subject;
  const pong: string = await bus.support.agent.ping();
  void pong;
  await bus.api('support.case').caseCreated.fire({ id: 1, sender: 'x' });
  // @ts-expect-error typed path: wrong parameter type
  await bus.support.case.get({ id: '1' });
  // @ts-expect-error typed path: unknown procedure of a typed API
  await bus.support.case.remove({ id: 1 });
  // @ts-expect-error typed event parameters
  await bus.support.case.caseCreated.fire({ id: 1 });
  // APIs not in the map are called by name (under noUncheckedIndexedAccess their paths may be undefined).
  const other: unknown = await bus.client.callRpc('billing.invoice', 'get', { id: 1 });
  void other;
  // Bus members keep their types.
  await bus.close();
}
