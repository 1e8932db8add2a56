import { readFileSync } from 'node:fs';
import path from 'node:path';
import * as errors from '.';

describe('the error catalogue', () => {
  const catalogue = readFileSync(
    path.join(__dirname, '..', '..', '..', '..', 'docs', 'reference', 'errors.md'),
    'utf8',
  );
  const classes = Object.entries(errors).filter(
    (entry): entry is [string, typeof errors.LightbusError] =>
      typeof entry[1] === 'function' &&
      (entry[1] === errors.LightbusError || entry[1].prototype instanceof errors.LightbusError),
  );

  // Every constructor accepts (string, array, object): enough to read the code of an instance.
  const codeOf = (ctor: unknown): string =>
    new (ctor as new (...a: unknown[]) => errors.LightbusError)('x', [], {}).code;

  it.each(classes.map(([name, ctor]) => [name, codeOf(ctor)]))('documents %s with its code %s', (name, code) => {
    expect(catalogue).toContain(`\`${code}\``);
    if (name !== 'LightbusError') expect(catalogue).toContain(`\`${name}\``);
  });

  it('gives every error a distinct code', () => {
    const codes = classes.map(([, ctor]) => codeOf(ctor));
    expect(new Set(codes).size).toBe(codes.length);
  });

  it('keeps the cause and names the class', () => {
    const cause = new Error('root');
    const error = new errors.BrokerConnectionError('down', { cause });
    expect(error.cause).toBe(cause);
    expect(error.name).toBe('BrokerConnectionError');
    expect(error.retriable).toBe(true);
    expect(new errors.RpcTimeoutError('a.b', 'c', 5).message).toContain('a.b.c() within 5s');
  });
});

describe('isMessageRejected', () => {
  it('knows a rejection by its class, or by its code when another copy of core made it', () => {
    expect(errors.isMessageRejected(new errors.MessageRejectedError('poison'))).toBe(true);
    const foreign = Object.assign(new Error('poison'), { code: 'LIGHTBUS_MESSAGE_REJECTED' });
    expect(errors.isMessageRejected(foreign)).toBe(true);
    expect(errors.isMessageRejected(new errors.ValidationError('bad'))).toBe(false);
    expect(errors.isMessageRejected(undefined)).toBe(false);
  });
});
