/**
 * Compile-time tests of the typed client: `npm run typecheck` fails if a line
 * marked @ts-expect-error compiles (the type would be too loose) or if a line
 * without it does not (too strict).
 */
import { Api, Event, create, type EventMessage } from '..';

class SupportCaseApi extends Api {
  static override meta = { name: 'support.case' };
  caseCreated = new Event({ parameters: ['id', 'sender'] });
  get({ id }: { id: number }): { id: number; subject: string } {
    return { id, subject: 'x' };
  }
  async count(): Promise<number> {
    return 1;
  }
  async search(params?: { text?: string }): Promise<string[]> {
    return [params?.text ?? ''];
  }
  _helper(): void {}
}

export async function typedClient(): Promise<void> {
  const bus = create();
  const api = bus.api(SupportCaseApi);

  const found: { id: number; subject: string } = await api.get({ id: 1 });
  const n: number = await api.count();
  const list: string[] = await api.search();
  await api.search({ text: 'x' });
  void found;
  void n;
  void list;

  // @ts-expect-error wrong parameter type
  await api.get({ id: '1' });
  // @ts-expect-error missing parameter
  await api.get({});
  // @ts-expect-error unknown procedure
  await api.remove({ id: 1 });
  // @ts-expect-error helpers starting with _ are not procedures
  await api._helper();
  // @ts-expect-error the result is a promise of the declared type, not another
  const wrong: string = await api.get({ id: 1 });
  void wrong;

  await api.caseCreated.fire({ id: 1, sender: 'Joe' });
  // @ts-expect-error a declared parameter is missing
  await api.caseCreated.fire({ id: 1 });
  // @ts-expect-error an unknown parameter
  await api.caseCreated.fire({ id: 1, sender: 'Joe', extra: true });

  api.caseCreated.listen(
    (params, message: EventMessage) => {
      const id: unknown = params.id;
      // @ts-expect-error not a parameter of the event
      void params.subject;
      void id;
      void message.apiName;
    },
    { listenerName: 'typed' },
  );
  // @ts-expect-error listenerName is required
  api.caseCreated.listen(() => undefined, {});
  // @ts-expect-error onError takes known modes only
  api.caseCreated.listen(() => undefined, { listenerName: 'x', onError: 'ignore' });

  // An API not declared (in BusApis or create<Apis>()) has no typed path: under
  // noUncheckedIndexedAccess its dynamic path may be undefined. Call it by name.
  // @ts-expect-error undeclared path, possibly undefined
  await bus.support.case.get({ id: 1 });
  const dynamic: unknown = await bus.client.callRpc('support.case', 'get', { id: 1 });
  void dynamic;
  // @ts-expect-error dynamic results are unknown, not any
  const notAny: number = await bus.client.callRpc('support.case', 'get', { id: 1 });
  void notAny;
  await bus.close();

  // Declared: the dynamic path is the typed client, also under noUncheckedIndexedAccess.
  const declared = create<{ 'support.case': SupportCaseApi }>();
  const typed: { id: number; subject: string } = await declared.support.case.get({ id: 1 });
  void typed;
  await declared.support.case.caseCreated.fire({ id: 1, sender: 'joe' });
  const byName: number = await declared.api('support.case').count();
  void byName;
  // @ts-expect-error typed path: wrong parameter type
  await declared.support.case.get({ id: '1' });
  // @ts-expect-error typed path: unknown procedure
  await declared.support.case.remove({ id: 1 });
  await declared.close();
}
