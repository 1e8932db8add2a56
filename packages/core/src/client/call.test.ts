/** Calling procedures: results, remote errors, timeouts, argument checks. */
import { InvalidParametersError, RemoteError, RpcTimeoutError } from '..';
import { UnknownProcedureError } from '../errors';
import { busFactory, memoryConfig, SupportCaseApi, pairOn } from '../test-helpers';

const buses = busFactory();
afterEach(() => buses.closeAll());
const pair = pairOn(buses);

describe('calling procedures', () => {
  it('calls a sync procedure by dynamic path and by typed client', async () => {
    const { client } = await pair();
    expect(await client.support.case.get({ id: 7 })).toEqual({ id: 7, subject: 'Case 7' });
    const typed = client.api(SupportCaseApi);
    const result = await typed.get({ id: 8 });
    expect(result.subject).toBe('Case 8');
    expect(await typed.slowGet({ id: 3, ms: 5 })).toBe(3);
  });

  it('returns null for a procedure that returns nothing', async () => {
    const { client } = await pair();
    expect(await client.support.case.nothing()).toBeNull();
  });

  it('raises RemoteError with the remote message, type and stack', async () => {
    const { client } = await pair();
    const error = await client.support.case.fail({ message: 'no such case' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RemoteError);
    const remote = error as RemoteError;
    expect(remote.remoteMessage).toBe('no such case');
    expect(remote.remoteType).toBe('TypeError');
    expect(remote.remoteStack).toContain('TypeError: no such case');
    expect(remote.message).toContain('support.case.fail() failed in the worker: TypeError: no such case');
    expect(remote.code).toBe('LIGHTBUS_REMOTE_ERROR');
  });

  it('times out naming the API, procedure and timeout', async () => {
    const config = memoryConfig(undefined, { apis: { 'nobody.home': { rpc_timeout: 0.05 } } });
    const client = buses.make({ config });
    const error = await client.nobody.home.ping().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RpcTimeoutError);
    expect((error as Error).message).toMatch(/No result for nobody\.home\.ping\(\) within 0\.05s \(rpc_timeout\)/);
    expect((error as Error).message).toMatch(/not registered in this process/);
  });

  it('takes a timeout per call', async () => {
    const { client } = await pair();
    await expect(client.support.case.slowGet({ id: 1, ms: 500 }, { timeout: 0.05 })).rejects.toThrow(RpcTimeoutError);
  });

  it('refuses an unknown procedure of an API it knows, listing the procedures', async () => {
    const { worker } = await pair();
    await expect(worker.support.case.gett({ id: 1 })).rejects.toThrow(UnknownProcedureError);
    await expect(worker.support.case.gett({ id: 1 })).rejects.toThrow(/has no procedure 'gett'. Its procedures: .*get/);
  });

  it('refuses an unknown procedure of an API whose schema is on the bus', async () => {
    const { client } = await pair();
    await expect(client.support.case.gett({ id: 1 })).rejects.toThrow(UnknownProcedureError);
    await expect(client.support.case.gett({ id: 1 })).rejects.toThrow(
      /has no procedure 'gett' \(per its schema\)\. Its procedures: get, slowGet/,
    );
  });

  it('returns a clear error from a worker that does not know the procedure', async () => {
    const { client } = await pair({ apis: { default: { validate: false, cast_values: false } } });
    const error = (await client.support.case.gett({ id: 1 }).catch((e: unknown) => e)) as RemoteError;
    expect(error).toBeInstanceOf(RemoteError);
    expect(error.remoteType).toBe('UnknownProcedureError');
    expect(error.message).toMatch(/has no procedure 'gett'/);
  });

  it('refuses parameters that are not one object', async () => {
    const { client } = await pair();
    await expect(client.support.case.get(5 as never)).rejects.toThrow(InvalidParametersError);
    await expect(client.client.callRpc('support.case', 'get', [1])).rejects.toThrow(/must be one object.*an array/);
  });

  it('gives a clear error for a path that is not a procedure', async () => {
    const { client } = await pair();
    await expect(client.support()).rejects.toThrow(/bus\.support\(\) is not a procedure call/);
    await expect(client.client.callRpc('support.case', '_private')).rejects.toThrow(/may not start with '_'/);
  });

  it('is not mistaken for a promise', async () => {
    const { client } = await pair();
    expect((client.support.case as unknown as { then?: unknown }).then).toBeUndefined();
    expect((client as unknown as { then?: unknown }).then).toBeUndefined();
    // Awaiting a path by mistake resolves to the path itself instead of hanging.
    const awaited = await (client.support.case as unknown as Promise<unknown>);
    expect(String(awaited)).toBe('bus.support.case');
  });

  it('serves many calls at once', async () => {
    const { client } = await pair();
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => client.api(SupportCaseApi).slowGet({ id: i, ms: 20 })),
    );
    expect(results).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('serves an API registered after start', async () => {
    const config = memoryConfig();
    const worker = buses.make({ config });
    await worker.start();
    worker.client.registerApi(new SupportCaseApi());
    const client = buses.make({ config });
    expect(await client.support.case.get({ id: 1 })).toEqual({ id: 1, subject: 'Case 1' });
  });

  it('serves only when the rpcs feature is on', async () => {
    const config = memoryConfig(undefined, { apis: { default: { rpc_timeout: 0.1 } } });
    const worker = buses.make({ config });
    worker.client.registerApi(new SupportCaseApi());
    await worker.start({ features: ['events'] });
    await expect(buses.make({ config }).support.case.get({ id: 1 })).rejects.toThrow(RpcTimeoutError);
  });
});
