import { Writable } from 'node:stream';
import pino from 'pino';
import winston from 'winston';
import { ConsoleLogger, fromPino, fromWinston, redactText } from '.';

const fixedNow = () => new Date('2026-12-07T10:00:00.000Z');

function capture(): { lines: string[]; write: (line: string) => void } {
  const lines: string[] = [];
  return { lines, write: (line) => lines.push(line) };
}

describe('ConsoleLogger', () => {
  it('writes text lines with a timestamp, level and fields, filtered by level', () => {
    const out = capture();
    const logger = new ConsoleLogger('info', {
      format: 'text',
      write: out.write,
      now: fixedNow,
      context: { service: 'billing' },
    });
    logger.debug('hidden');
    logger.warn('Listener failed', { listener: 'notify', attempt: 2 });
    expect(out.lines).toEqual(['2026-12-07T10:00:00.000Z WARNING Listener failed listener=notify attempt=2']);
  });

  it('writes one JSON object per line with time, level, msg, context and fields', () => {
    const out = capture();
    const logger = new ConsoleLogger('debug', {
      format: 'json',
      write: out.write,
      now: fixedNow,
      context: { service: 'billing', process: 'b1' },
    });
    const error = Object.assign(new TypeError('bad input'), { code: 'E_BAD' });
    logger
      .child({ api: 'support.case' })
      .error('Handler failed', { event: 'caseCreated', id: 'm1', error, big: 10n ** 20n });
    expect(out.lines).toHaveLength(1);
    const record = JSON.parse(out.lines[0]!) as Record<string, unknown>;
    expect(record).toMatchObject({
      time: '2026-12-07T10:00:00.000Z',
      level: 'error',
      msg: 'Handler failed',
      service: 'billing',
      process: 'b1',
      api: 'support.case',
      event: 'caseCreated',
      id: 'm1',
      big: '100000000000000000000',
      error: { type: 'TypeError', message: 'bad input', code: 'E_BAD' },
    });
    expect((record.error as { stack: string }).stack).toContain('TypeError: bad input');
  });

  it('reads the format from LIGHTBUS_LOG_FORMAT when none is given', () => {
    const out = capture();
    process.env.LIGHTBUS_LOG_FORMAT = 'json';
    try {
      new ConsoleLogger('info', { write: out.write }).info('hello');
    } finally {
      delete process.env.LIGHTBUS_LOG_FORMAT;
    }
    expect(JSON.parse(out.lines[0]!)).toMatchObject({ level: 'info', msg: 'hello' });
  });

  it('never writes a password from a URL, in the message, a field, a nested value or an error', () => {
    const out = capture();
    const url = 'amqp://guest:hunter2@rabbit:5672/vhost';
    const logger = new ConsoleLogger('debug', { format: 'text', write: out.write });
    logger.info(`Connecting to ${url}`, { url, nested: { urls: [url] }, error: new Error(`cannot reach ${url}`) });
    const json = capture();
    new ConsoleLogger('debug', { format: 'json', write: json.write, context: { broker: url } }).info('x', { url });
    const all = [...out.lines, ...json.lines].join('\n');
    expect(all).not.toContain('hunter2');
    expect(all).toContain('amqp://guest:***@rabbit:5672/vhost');
  });
});

describe('redactText', () => {
  it('redacts every credential-bearing URL and leaves others', () => {
    expect(redactText('a redis://:pw@h:6379/0 b rediss://user:pw2@h2 c http://plain/x')).toBe(
      'a redis://:***@h:6379/0 b rediss://user:***@h2 c http://plain/x',
    );
  });
});

function sink(): { records: Array<Record<string, unknown>>; stream: Writable } {
  const records: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n'))
        if (line.trim()) records.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { records, stream };
}

describe('fromPino', () => {
  it('keeps the message and every field, errors included', () => {
    const { records, stream } = sink();
    const logger = fromPino(pino({ level: 'debug' }, stream));
    logger.warn('Event set aside', { api: 'support.case', event: 'caseCreated', id: 'm1', error: new Error('boom') });
    logger.debug('details', { url: 'redis://:pw@h:6379' });
    expect(records[0]).toMatchObject({
      level: 40,
      msg: 'Event set aside',
      api: 'support.case',
      event: 'caseCreated',
      id: 'm1',
    });
    expect(records[0]!.error).toMatchObject({ type: 'Error', message: 'boom' });
    expect(records[1]).toMatchObject({ level: 20, msg: 'details', url: 'redis://:***@h:6379' });
  });
});

describe('fromWinston', () => {
  it('keeps the message and every field as metadata', () => {
    const { records, stream } = sink();
    const logger = fromWinston(
      winston.createLogger({
        level: 'debug',
        format: winston.format.json(),
        transports: [new winston.transports.Stream({ stream })],
      }),
    );
    logger.error('Handler failed', { listener: 'notify', error: new Error('boom') });
    logger.info('ready', { apis: ['a', 'b'] });
    expect(records[0]).toMatchObject({
      level: 'error',
      message: 'Handler failed',
      listener: 'notify',
      error: { type: 'Error', message: 'boom' },
    });
    expect(records[1]).toMatchObject({ level: 'info', message: 'ready', apis: ['a', 'b'] });
  });
});
