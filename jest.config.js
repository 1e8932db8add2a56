// One jest run, two projects: `unit` (no broker, seconds) and `integration`
// (real Redis, RabbitMQ and a Kafka-protocol broker; started by test/global-setup).
const swc = [
  '@swc/jest',
  {
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'commonjs' },
    sourceMaps: 'inline',
  },
];

// Tests import the workspace packages from source, so no build is needed to run them.
const { readdirSync } = require('node:fs');
const packages = readdirSync(`${__dirname}/packages`, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name);
const moduleNameMapper = {
  // Subpath entries (package.json `exports`), then each package's main entry: jest takes the first match.
  '^@lightbus/testing/jest$': '<rootDir>/packages/testing/src/jest',
  '^@lightbus/core/transport$': '<rootDir>/packages/core/src/transport',
  '^@lightbus/core/errors$': '<rootDir>/packages/core/src/errors',
  [`^@lightbus/(${packages.join('|')})$`]: '<rootDir>/packages/$1/src',
};

const common = {
  rootDir: __dirname,
  testEnvironment: 'node',
  transform: { '^.+\\.tsx?$': swc },
  moduleNameMapper,
  moduleFileExtensions: ['ts', 'js', 'json'],
};

module.exports = {
  // Test files run concurrently. Integration files spend their time waiting on brokers and
  // child processes, so more workers than cores pay off (jest's default is cores - 1: one
  // worker on a 2-core machine). Each file works in names of its own (unique API names, key and
  // topic prefixes, Redis databases), so files never meet. Override: LIGHTBUS_TEST_WORKERS or --maxWorkers.
  maxWorkers: process.env.LIGHTBUS_TEST_WORKERS || Math.max(4, require('node:os').availableParallelism?.() ?? 4),
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/packages/*/src/**/*.test.ts'],
    },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/packages/*/test/**/*.test.ts', '<rootDir>/test/**/*.test.ts'],
      globalSetup: '<rootDir>/test/global-setup.js',
      globalTeardown: '<rootDir>/test/global-teardown.js',
      // 60 s per test; a project's `testTimeout` is ignored by jest, hence the setup file.
      setupFilesAfterEnv: ['<rootDir>/test/integration-timeout.js'],
      slowTestThreshold: 20,
    },
  ],
};
