import { ConfigFileError } from '../errors';
import { TransportRegistry } from '../transport/registry';
import { memoryTransport } from '../transport/memory';
import { errorReport } from './main';

it('reports an error as one paragraph, with the stack and causes only under --debug', () => {
  const known = new ConfigFileError('No config at x.yaml: create it.');
  expect(errorReport(known, false)).toBe('No config at x.yaml: create it.');
  const unknown = new TypeError('boom', { cause: new Error('below') });
  expect(errorReport(unknown, false)).toBe('TypeError: boom (run again with --debug for the stack)');
  const debug = errorReport(unknown, true);
  expect(debug).toContain('TypeError: boom\n    at ');
  expect(debug).toContain('Caused by: Error: below');
});

it('suggests the transport meant, among known and installed ones', () => {
  const registry = new TransportRegistry([memoryTransport]);
  expect(() => registry.resolve('rediss')).toThrow(
    /^Transport 'rediss' is not installed or known\. Did you mean 'redis'\?.* Installed: memory/,
  );
  expect(() => registry.resolve('zzzqqq')).toThrow(
    'If it is a transport package, install it: npm install @lightbus/zzzqqq.',
  );
});
