// The integration project's per-test timeout. jest reads `testTimeout` from the global
// config only (a project's own `testTimeout` is ignored), so set it here, per test file.
jest.setTimeout(60_000);
