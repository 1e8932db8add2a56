/**
 * The tracing scenario of the bus-level tier: with an OpenTelemetry SDK in each
 * process, a client process calls a `lightbus run` worker whose procedure fires
 * an event that the client's listener handles. The four spans (CLIENT, SERVER,
 * PRODUCER, CONSUMER) must make one trace across the two processes, each the
 * child of the one before: the W3C trace context crossed the transport both ways.
 */
import { expect } from '@jest/globals';
import { readFileSync } from 'node:fs';
import type { World } from './world';

interface SpanLine {
  readonly process: string;
  readonly name: string;
  readonly kind: number;
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly attributes: Record<string, unknown>;
}

const KIND = { SERVER: 1, CLIENT: 2, PRODUCER: 3, CONSUMER: 4 } as const;
const SDK_PACKAGES = ['@opentelemetry/sdk-trace', '@opentelemetry/context-async-hooks', '@opentelemetry/core'];

/** Whether the OpenTelemetry SDK packages the scenario loads are installed (optional peers of @lightbus/testing). */
export function otelSdkInstalled(): boolean {
  try {
    for (const name of SDK_PACKAGES) require.resolve(name);
    return true;
  } catch {
    return false;
  }
}

export async function traceAcrossProcesses(world: World): Promise<void> {
  const spansFile = world.file('spans.jsonl');
  const worker = world.tracedWorker('traced-worker', spansFile);
  await worker.run.waitForOutput(`Serving ${world.apiName}`, world.patience * 2);
  const client = world.tracedClient('traced-client', spansFile);
  const exit = await client.run.exit;
  if (exit.code !== 0)
    throw new Error(`the traced client exited with ${JSON.stringify(exit)}:\n${client.run.output()}`);
  expect([...client.lines].sort()).toEqual(['handled 7', 'placed 7']);
  worker.run.kill('SIGTERM');
  await worker.run.exit;

  const spans = readFileSync(spansFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as SpanLine);
  const find = (name: string, kind: number): SpanLine => {
    const span = spans.find((s) => s.name === name && s.kind === kind);
    if (!span)
      throw new Error(
        `no ${name} span of kind ${kind}; spans: ${JSON.stringify(spans.map((s) => [s.process, s.name, s.kind]))}`,
      );
    return span;
  };
  const call = find(`${world.apiName}/place`, KIND.CLIENT);
  const execution = find(`${world.apiName}/place`, KIND.SERVER);
  const publish = find(`publish ${world.apiName}.placed`, KIND.PRODUCER);
  const handle = find(`process ${world.apiName}.placed`, KIND.CONSUMER);
  expect([call.process, execution.process, publish.process, handle.process]).toEqual([
    'traced-client',
    'traced-worker',
    'traced-worker',
    'traced-client',
  ]);
  expect(new Set([call, execution, publish, handle].map((s) => s.traceId)).size).toBe(1);
  expect(execution.parentSpanId).toBe(call.spanId);
  expect(publish.parentSpanId).toBe(execution.spanId);
  expect(handle.parentSpanId).toBe(publish.spanId);
  expect(handle.attributes).toMatchObject({
    'messaging.operation': 'process',
    'messaging.destination.name': `${world.apiName}.placed`,
    'messaging.consumer.group.name': `${world.service}-audit`,
  });
}
