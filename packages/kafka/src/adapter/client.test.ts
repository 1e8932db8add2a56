import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, ConsoleLogger, validateAgainst } from '@lightbus/core/transport';
import { EventOptions, type ConnectionOptions } from '../options';
import { buildKafkaConfig } from './client';

function connection(extra: Record<string, unknown>): ConnectionOptions {
  const options: Record<string, unknown> = { ...extra };
  const issues = validateAgainst(EventOptions, options);
  if (issues.length) throw new Error(JSON.stringify(issues));
  return options as unknown as ConnectionOptions;
}

const context = { serviceName: 'billing', logger: new ConsoleLogger('critical') };

describe('the kafkajs client config', () => {
  it('passes brokers, client id, timeouts and retry through', () => {
    const config = buildKafkaConfig(
      connection({
        brokers: ['k1:9092', 'k2:9093'],
        connection_timeout_ms: 1500,
        request_timeout_ms: 9000,
        retry: { retries: 8, max_retry_time_ms: 2000 },
      }),
      context,
    );
    expect(config).toMatchObject({
      brokers: ['k1:9092', 'k2:9093'],
      clientId: 'lightbus-billing',
      ssl: false,
      connectionTimeout: 1500,
      requestTimeout: 9000,
      retry: { retries: 8, initialRetryTime: 300, maxRetryTime: 2000 },
    });
    expect(config.sasl).toBeUndefined();
    expect(buildKafkaConfig(connection({ client_id: 'custom' }), context).clientId).toBe('custom');
  });

  it('passes TLS options through, reading PEM files', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'lightbus-kafka-tls-'));
    writeFileSync(path.join(dir, 'ca.pem'), 'CA PEM');
    writeFileSync(path.join(dir, 'key.pem'), 'KEY PEM');
    expect(buildKafkaConfig(connection({ ssl: true }), context).ssl).toBe(true);
    expect(
      buildKafkaConfig(
        connection({
          ssl: {
            ca_file: path.join(dir, 'ca.pem'),
            cert: 'CERT PEM',
            key_file: path.join(dir, 'key.pem'),
            servername: 'kafka.internal',
            reject_unauthorized: false,
          },
        }),
        context,
      ).ssl,
    ).toEqual({
      ca: 'CA PEM',
      cert: 'CERT PEM',
      key: 'KEY PEM',
      servername: 'kafka.internal',
      rejectUnauthorized: false,
    });
    expect(() => buildKafkaConfig(connection({ ssl: { ca_file: path.join(dir, 'missing.pem') } }), context)).toThrow(
      ConfigError,
    );
    expect(() => buildKafkaConfig(connection({ ssl: { ca_file: path.join(dir, 'missing.pem') } }), context)).toThrow(
      /ssl\.ca_file: cannot read/,
    );
  });

  it('passes SASL through', () => {
    expect(
      buildKafkaConfig(connection({ sasl: { mechanism: 'scram-sha-256', username: 'u', password: 'p' } }), context)
        .sasl,
    ).toEqual({
      mechanism: 'scram-sha-256',
      username: 'u',
      password: 'p',
    });
    expect(
      buildKafkaConfig(
        connection({
          sasl: {
            mechanism: 'aws',
            authorization_identity: 'AIDA',
            access_key_id: 'AK',
            secret_access_key: 'SK',
            session_token: 'T',
          },
        }),
        context,
      ).sasl,
    ).toEqual({
      mechanism: 'aws',
      authorizationIdentity: 'AIDA',
      accessKeyId: 'AK',
      secretAccessKey: 'SK',
      sessionToken: 'T',
    });
  });
});
