import { describe, expect, it } from '@jest/globals';
import { BusClosedError, RpcTimeoutError, UndecodableResultError } from '../../errors';
import type { Logger } from '../../log';
import type { ResultMessage } from '../../message';
import { decoded, undecodable } from './codec';
import type { RpcTransport, ResultTransport } from '../interfaces';
import { ReplyMatcher, sendCall, type ExpectedCall } from './reply';

function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const log = (message: string): void => void lines.push(message);
  return { lines, debug: log, info: log, warn: log, error: log };
}

const call = (id: string, deadline = Date.now() + 60_000): ExpectedCall => ({
  id,
  apiName: 'support.case',
  procedureName: 'get',
  deadline,
});
const result = (rpcMessageId: string, value: unknown = 'ok'): ResultMessage => ({
  id: `r-${rpcMessageId}`,
  rpcMessageId,
  result: value,
  error: false,
});

describe('ReplyMatcher', () => {
  it('settles each call with its own reply, by call id, and forgets it', async () => {
    const matcher = new ReplyMatcher({ name: 'test result transport', logger: recordingLogger() });
    const a = matcher.expect(call('a'), 'test://a');
    const b = matcher.expect(call('b'), 'test://b');
    expect(a.returnPath).toBe('test://a');
    expect(matcher.settle(decoded(result('b', 2)))).toBe(true);
    expect(matcher.settle(decoded(result('a', 1)))).toBe(true);
    await expect(a.result).resolves.toMatchObject({ rpcMessageId: 'a', result: 1 });
    await expect(b.result).resolves.toMatchObject({ rpcMessageId: 'b', result: 2 });
    expect(matcher.size).toBe(0);
  });

  it('matches by the correlation id the transport read outside the body, when given', async () => {
    const matcher = new ReplyMatcher({ name: 'test', logger: recordingLogger() });
    const pending = matcher.expect(call('c1'), 'x');
    matcher.settle(decoded(result('other')), 'c1');
    await expect(pending.result).resolves.toMatchObject({ rpcMessageId: 'other' });
  });

  it('drops a reply nobody waits for (cancelled), with a debug line', () => {
    const logger = recordingLogger();
    const matcher = new ReplyMatcher({ name: 'test', logger });
    let done = 0;
    const pending = matcher.expect(call('gone'), 'x', () => (done += 1));
    pending.cancel();
    pending.cancel();
    expect(done).toBe(1);
    expect(matcher.settle(decoded(result('gone')))).toBe(false);
    expect(logger.lines.join('\n')).toMatch(/nobody waits for any more/);
  });

  it('fails a call at once with UndecodableResultError when its reply cannot be decoded', async () => {
    const matcher = new ReplyMatcher({ name: 'test', logger: recordingLogger() });
    const pending = matcher.expect(call('bad'), 'x');
    const other = matcher.expect(call('fine'), 'x');
    expect(matcher.settle(undecodable('body is not JSON', 'bad'))).toBe(true);
    await expect(pending.result).rejects.toThrow(UndecodableResultError);
    await expect(pending.result).rejects.toThrow('The result of call bad cannot be decoded: body is not JSON.');
    expect(matcher.has('fine')).toBe(true);
    // An unreadable reply that names no call fails nobody.
    expect(matcher.settle(undecodable('garbage'))).toBe(false);
    other.cancel();
  });

  it('fails a call with RpcTimeoutError when its deadline passes', async () => {
    const matcher = new ReplyMatcher({ name: 'test', logger: recordingLogger() });
    let done = false;
    const pending = matcher.expect(call('slow', Date.now() + 30), 'x', () => (done = true));
    const error = await pending.result.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RpcTimeoutError);
    expect((error as RpcTimeoutError).message).toContain('support.case.get()');
    expect(done).toBe(true);
    expect(matcher.size).toBe(0);
  });

  it('fails every waiting call with BusClosedError on close, and refuses new ones', async () => {
    const matcher = new ReplyMatcher({ name: 'test result transport', logger: recordingLogger() });
    const pending = matcher.expect(call('w'), 'x');
    matcher.close();
    await expect(pending.result).rejects.toThrow(BusClosedError);
    await expect(pending.result).rejects.toThrow(/The test result transport is closed.*call w/);
    expect(() => matcher.expect(call('late'), 'x')).toThrow(BusClosedError);
    matcher.close();
  });

  it('fails every waiting call with the error given to failAll, and goes on', async () => {
    const matcher = new ReplyMatcher({ name: 'test', logger: recordingLogger() });
    const one = matcher.expect(call('1'), 'x');
    const two = matcher.expect(call('2'), 'x');
    matcher.failAll(new Error('channel lost'));
    await expect(one.result).rejects.toThrow('channel lost');
    await expect(two.result).rejects.toThrow('channel lost');
    const three = matcher.expect(call('3'), 'x');
    matcher.settle(decoded(result('3')));
    await expect(three.result).resolves.toMatchObject({ rpcMessageId: '3' });
  });
});

describe('sendCall', () => {
  function transports(fail = false) {
    const matcher = new ReplyMatcher({ name: 'test', logger: recordingLogger() });
    const sent: unknown[] = [];
    const result: ResultTransport = {
      expectResult: async (c) => matcher.expect(c, 'test://back'),
      sendResult: async () => undefined,
      close: async () => undefined,
    };
    const rpc: RpcTransport = {
      callRpc: async (message) => {
        if (fail) throw new Error('broker down');
        sent.push(message);
      },
      consumeRpcs: async () => ({ stop: async () => undefined }),
      close: async () => undefined,
    };
    return { matcher, sent, pair: { rpc, result } };
  }
  const draft = { id: 'c1', apiName: 'a', procedureName: 'p', kwargs: { n: 1 }, deadline: Date.now() + 60_000 };

  it('expects the result first, then sends one frozen message carrying the return path and the deadline', async () => {
    const { sent, pair, matcher } = transports();
    const seen: unknown[] = [];
    const { message, pending } = await sendCall(pair, draft, (m) => void seen.push(m));
    expect(message).toEqual({ ...draft, returnPath: 'test://back' });
    expect(Object.isFrozen(message)).toBe(true);
    expect(sent).toEqual([message]);
    expect(seen).toEqual([message]);
    expect(matcher.has('c1')).toBe(true);
    pending.cancel();
  });

  it('stops waiting when the call cannot be sent', async () => {
    const { pair, matcher } = transports(true);
    await expect(sendCall(pair, draft)).rejects.toThrow('broker down');
    expect(matcher.size).toBe(0);
  });
});
