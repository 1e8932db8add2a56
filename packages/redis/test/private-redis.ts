/**
 * A Redis server of a test's own (redis-server on a free port, no persistence),
 * for what must not be done to the shared one: stopping and restarting it,
 * requiring a password.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { Redis } from 'ioredis';
import { waitFor } from '@lightbus/testing';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** A throwaway certificate authority and a server certificate for localhost / 127.0.0.1 (openssl). */
export interface TestCertificates {
  readonly dir: string;
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
}

export function makeCertificates(): TestCertificates {
  const dir = mkdtempSync(path.join(tmpdir(), 'lightbus-tls-'));
  const file = (name: string): string => path.join(dir, name);
  const openssl = (...args: string[]): void => {
    const result = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${result.stderr}`);
  };
  writeFileSync(file('san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=Lightbus test CA',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
  );
  openssl(
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=localhost',
    '-keyout',
    'server.key',
    '-out',
    'server.csr',
  );
  openssl(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    'san.ext',
    '-out',
    'server.crt',
  );
  return { dir, caFile: file('ca.crt'), certFile: file('server.crt'), keyFile: file('server.key') };
}

export class PrivateRedis {
  private process: ChildProcess | undefined;

  private constructor(
    readonly port: number,
    private readonly password?: string,
    private readonly tls?: TestCertificates,
    private readonly extraArgs: readonly string[] = [],
  ) {}

  /** `args`: more redis-server arguments (e.g. `--rename-command BLMOVE ""` to act as an older Redis). */
  static async start(
    options: { password?: string; tls?: TestCertificates; args?: readonly string[] } = {},
  ): Promise<PrivateRedis> {
    const server = new PrivateRedis(await freePort(), options.password, options.tls, options.args);
    await server.start();
    return server;
  }

  url(password = this.password): string {
    const host = this.tls ? 'localhost' : '127.0.0.1';
    return `${this.tls ? 'rediss' : 'redis'}://${password ? `:${password}@` : ''}${host}:${this.port}/0`;
  }

  async start(): Promise<void> {
    const args = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
    if (this.tls) {
      args.push('--port', '0', '--tls-port', String(this.port), '--tls-auth-clients', 'no');
      args.push(
        '--tls-cert-file',
        this.tls.certFile,
        '--tls-key-file',
        this.tls.keyFile,
        '--tls-ca-cert-file',
        this.tls.caFile,
      );
    } else {
      args.push('--port', String(this.port));
    }
    if (this.password) args.push('--requirepass', this.password);
    args.push(...this.extraArgs);
    this.process = spawn('redis-server', args, { stdio: 'ignore' });
    const tls = this.tls ? { ca: readFileSync(this.tls.caFile) } : undefined;
    await waitFor(
      async () => {
        const client = new Redis(this.url(), {
          lazyConnect: true,
          retryStrategy: () => null,
          maxRetriesPerRequest: 0,
          tls,
        });
        client.on('error', () => undefined);
        try {
          await client.connect();
          return (await client.ping()) === 'PONG';
        } catch {
          return false;
        } finally {
          client.disconnect();
        }
      },
      { timeout: 10_000, interval: 50, message: `redis-server on port ${this.port} to start` },
    );
  }

  /** Stop the server (its data is gone: no persistence). */
  async stop(): Promise<void> {
    const process = this.process;
    this.process = undefined;
    if (!process || process.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => process.once('exit', () => resolve()));
    process.kill('SIGKILL');
    await exited;
  }
}
