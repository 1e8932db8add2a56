import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connectionUrl, socketOptions } from './adapter';

const base = {
  url: 'amqp://u:p@h:5672/',
  prefix: 'lightbus',
  heartbeat: 30,
  connection_timeout: 10,
  reconnect_initial_delay: 0.1,
  reconnect_max_delay: 10,
};

describe('amqp adapter', () => {
  it('asks for the heartbeat unless the url says otherwise', () => {
    expect(connectionUrl({ url: 'amqp://h:5672/%2F', heartbeat: 15 })).toBe('amqp://h:5672/%2F?heartbeat=15');
    expect(connectionUrl({ url: 'amqp://h/?heartbeat=5', heartbeat: 15 })).toBe('amqp://h/?heartbeat=5');
  });

  it('turns on TCP_NODELAY, names the connection and reads TLS files', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'amqp-tls-'));
    writeFileSync(path.join(dir, 'ca.pem'), 'CA');
    const options = socketOptions({
      options: {
        ...base,
        tls: { ca_file: path.join(dir, 'ca.pem'), reject_unauthorized: false, servername: 'rabbit.internal' },
      },
      connectionName: 'lightbus rpc svc/p1',
      clientProperties: { lightbus_role: 'rpc' },
    }) as Record<string, unknown>;
    expect(options).toMatchObject({
      noDelay: true,
      timeout: 10_000,
      rejectUnauthorized: false,
      servername: 'rabbit.internal',
      clientProperties: { connection_name: 'lightbus rpc svc/p1', lightbus_role: 'rpc' },
    });
    expect(String((options.ca as Buffer[])[0])).toBe('CA');
    expect(() =>
      socketOptions({
        options: { ...base, tls: { cert_file: '/nope.pem', reject_unauthorized: true } },
        connectionName: 'x',
        clientProperties: {},
      }),
    ).toThrow("Cannot read tls.cert_file '/nope.pem'");
  });
});
