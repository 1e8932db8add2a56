import { Api, Event, RemoteError, ValidationError, Type, create, procedure, type Bus } from '@lightbus/core';
import { BusMocker, BusMockerError } from '.';

class SupportCaseApi extends Api {
  static override meta = { name: 'support.case' };
  caseCreated = new Event({ parameters: ['id', 'sender'] });
  get = procedure(
    {
      parameters: Type.Object({ id: Type.Integer() }),
      response: Type.Object({ id: Type.Integer(), subject: Type.String() }),
    },
    ({ id }) => ({
      id,
      subject: 'real',
    }),
  );
}

/** The code under test: calls a procedure and fires an event. */
async function openCase(bus: Bus<{ 'support.case': SupportCaseApi }>, id: number): Promise<string> {
  const found = await bus.api(SupportCaseApi).get({ id });
  await bus.api(SupportCaseApi).caseCreated.fire({ id, sender: 'joe' });
  return found.subject;
}

let bus: Bus<{ 'support.case': SupportCaseApi }>;
beforeEach(() => {
  bus = create<{ 'support.case': SupportCaseApi }>({
    config: { apis: { default: { rpc_transport: { memory: { name: 'mocker-test' } } } } },
  });
  bus.client.registerApi(new SupportCaseApi());
});
afterEach(() => bus.close());

it('answers mocked calls and records calls and events', async () => {
  const mocker = new BusMocker(bus).mockRpc('support.case.get', ({ id }: Record<string, unknown>) => ({
    id,
    subject: `mocked ${String(id)}`,
  }));
  expect(await openCase(bus, 7)).toBe('mocked 7');
  mocker.assertRpcCalled('support.case.get', { times: 1, with: { id: 7 } });
  mocker.assertEventFired('support.case.caseCreated', { with: { id: 7, sender: 'joe' } });
  mocker.assertEventNotFired('support.case.other');
  expect(() => mocker.assertRpcCalled('support.case.get', { times: 2 })).toThrow(
    'Expected 2 calls to support.case.get(), got 1.',
  );
  expect(() => mocker.assertEventFired('support.case.caseCreated', { with: { id: 8 } })).toThrow(
    /No event support\.case\.caseCreated had parameters \{"id":8\}; seen: \{"id":7,"sender":"joe"\}/,
  );
});

it('fails a call that was not mocked, saying how to mock it', async () => {
  new BusMocker(bus);
  await expect(bus.support.case.get({ id: 1 })).rejects.toThrow(BusMockerError);
  await expect(bus.support.case.get({ id: 1 })).rejects.toThrow("Mock it: mocker.mockRpc('support.case.get', result).");
});

it('mocks remote errors, and still validates against the schema', async () => {
  const mocker = new BusMocker(bus).mockRpcError('support.case.get', new TypeError('db down'));
  const error = (await bus.support.case.get({ id: 1 }).catch((e: unknown) => e)) as RemoteError;
  expect(error).toBeInstanceOf(RemoteError);
  expect(error.remoteType).toBe('TypeError');
  // @ts-expect-error a wrong parameter type: the mocked call still validates it at run time
  await expect(bus.support.case.get({ id: 'x' })).rejects.toThrow(ValidationError);
  mocker.assertRpcCalled('support.case.get', { times: 1 });
});

it('gives the bus its transports back on restore', async () => {
  const mocker = new BusMocker(bus).mockRpc('support.case.get', { id: 1, subject: 'mocked' });
  mocker.restore();
  await bus.start();
  expect(await bus.support.case.get({ id: 2 })).toEqual({ id: 2, subject: 'real' });
  mocker.assertRpcNotCalled('support.case.get');
});

it('lists the names of calls made and events fired, in order', async () => {
  const mocker = new BusMocker(bus).mockRpc('support.case.get', { id: 1, subject: 'mocked' });
  await openCase(bus, 1);
  await openCase(bus, 2);
  expect(mocker.rpcNamesCalled).toEqual(['support.case.get', 'support.case.get']);
  expect(mocker.eventNamesFired).toEqual(['support.case.caseCreated', 'support.case.caseCreated']);
});

it('strict mode fails on an event not declared, and at restore() even when the code under test caught it', async () => {
  const mocker = new BusMocker(bus, { strict: true }).mockRpc('support.case.get', { id: 1, subject: 'mocked' });
  await expect(openCase(bus, 1)).rejects.toThrow(
    "support.case.caseCreated was fired but not expected (strict mode). Allow it: mocker.mockEventFiring('support.case.caseCreated').",
  );
  await bus.client.callRpc('billing.invoice', 'create', {}).catch(() => undefined);
  expect(() => mocker.restore()).toThrow(
    /^Not mocked: support\.case\.caseCreated, billing\.invoice\.create\. Mock calls with/,
  );
});

it('strict mode passes when every call and event is mocked', async () => {
  const mocker = new BusMocker(bus, { strict: true })
    .mockRpc('support.case.get', { id: 1, subject: 'mocked' })
    .mockEventFiring('support.case.caseCreated');
  expect(await openCase(bus, 1)).toBe('mocked');
  mocker.assertAllMocked();
  expect(() => mocker.restore()).not.toThrow();
});
