// Integration tests talk to real brokers: 60 s per test (jest's own default is 5 s,
// and `testTimeout` in a project's config is not applied by jest).
jest.setTimeout(60_000);
