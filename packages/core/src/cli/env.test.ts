import { runCommand, type RunOptions } from './commands/run';

/** The options `lightbus run` would start with, given these arguments and this environment. */
function runOptions(args: string[], env: Record<string, string>): RunOptions {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    let seen: RunOptions | undefined;
    const command = runCommand()
      .exitOverride()
      .configureOutput({ writeErr: () => undefined })
      .action((options: RunOptions) => {
        seen = options;
      });
    command.parse(args, { from: 'user' });
    if (!seen) throw new Error('the run action was not reached');
    return seen;
  } finally {
    for (const key of Object.keys(env)) delete process.env[key];
    Object.assign(process.env, saved);
  }
}

describe('lightbus run reads its flags from LIGHTBUS_* variables', () => {
  it('takes features, schema, health and broker-down behaviour from the environment', () => {
    const options = runOptions([], {
      LIGHTBUS_ONLY: 'rpcs,events',
      LIGHTBUS_SKIP: 'events',
      LIGHTBUS_SCHEMA: 'schemas/',
      LIGHTBUS_HEALTH_PORT: '8081',
      LIGHTBUS_HEALTH_HOST: '127.0.0.1',
      LIGHTBUS_EXIT_ON_BROKER_DOWN: '1',
      LIGHTBUS_LOG_FORMAT: 'json',
    });
    expect(options).toMatchObject({
      only: ['rpcs', 'events'],
      skip: ['events'],
      schema: 'schemas/',
      healthPort: 8081,
      healthHost: '127.0.0.1',
      exitOnBrokerDown: true,
      logFormat: 'json',
    });
  });

  it('lets a flag on the command line win over its variable', () => {
    const options = runOptions(['--only', 'tasks', '--health-port', '9000'], {
      LIGHTBUS_ONLY: 'rpcs',
      LIGHTBUS_HEALTH_PORT: '8081',
    });
    expect(options.only).toEqual(['tasks']);
    expect(options.healthPort).toBe(9000);
  });

  it('refuses a bad value from the environment as it refuses the flag, naming the choices', () => {
    expect(() => runOptions([], { LIGHTBUS_ONLY: 'rpc' })).toThrow(
      /'rpc' is not a feature; choose from rpcs, events, tasks/,
    );
    expect(() => runOptions([], { LIGHTBUS_HEALTH_PORT: 'eighty' })).toThrow(/--health-port must be a port number/);
  });

  it('leaves every flag unset when neither flag nor variable is given', () => {
    const options = runOptions([], {});
    expect(options.only).toBeUndefined();
    expect(options.exitOnBrokerDown).toBeUndefined();
    expect(options.healthPort).toBeUndefined();
  });
});
