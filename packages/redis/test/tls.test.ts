/**
 * rediss:// (TLS): a private redis-server with a test certificate authority,
 * which a child process trusts through NODE_EXTRA_CA_CERTS, as a user would
 * for a private CA. The child serves a call, handles an event and closes.
 */
import path from 'node:path';
import { startTypeScript } from '@lightbus/testing';
import { PrivateRedis, makeCertificates, type TestCertificates } from './private-redis';
import { uniqueId } from './helpers';

let certificates: TestCertificates;
let server: PrivateRedis;

beforeAll(async () => {
  certificates = makeCertificates();
  server = await PrivateRedis.start({ tls: certificates, password: 'tls-secret' });
});

afterAll(async () => {
  await server.stop();
});

it('works over rediss:// with a password', async () => {
  expect(server.url()).toMatch(/^rediss:\/\/:tls-secret@localhost:\d+\/0$/);
  const child = startTypeScript(path.join(__dirname, 'fixtures', 'close-exits.ts'), {
    env: {
      REDIS_URL: server.url(),
      API: `tls${uniqueId()}.echo`,
      SERVICE: `svc-${uniqueId()}`,
      NODE_EXTRA_CA_CERTS: certificates.caFile,
    },
  });
  const { code } = await child.exit;
  expect(child.output()).toContain('echo: hi');
  expect(code).toBe(0);
});
