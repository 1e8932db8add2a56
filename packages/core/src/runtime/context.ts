/**
 * What the client and the worker of one bus share: the config, the logger, the
 * transports, the hooks, the schemas, the registered APIs, the validation
 * policy and the lifecycle. Each keeps its own work (calls waiting; consumers,
 * listeners and tasks) to itself.
 */
import type { ApiRegistry } from '../api/registry';
import type { Config } from '../config';
import type { Logger } from '../log';
import type { ValidationPolicy } from '../schema/policy';
import type { SchemaRegistry } from '../schema/registry';
import type { Telemetry } from '../telemetry';
import type { HookRegistry } from './hooks';
import type { Lifecycle } from './lifecycle';
import type { TransportPool } from './pool';

export interface BusContext {
  readonly config: Config;
  readonly logger: Logger;
  readonly transports: TransportPool;
  readonly hooks: HookRegistry;
  readonly schemas: SchemaRegistry;
  readonly apis: ApiRegistry;
  readonly validation: ValidationPolicy;
  readonly lifecycle: Lifecycle;
  /** Spans and metrics (OpenTelemetry API; no-ops without an SDK). */
  readonly telemetry: Telemetry;
}
