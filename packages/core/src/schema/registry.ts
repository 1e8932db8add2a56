/**
 * The schemas one bus knows: its own APIs' (stored on the bus with a TTL and
 * refreshed every ttl * 0.8 s while the bus runs), schemas loaded from files
 * (`lightbus run --schema`), and everyone else's, loaded from the schema
 * transport on first need and again when older than ttl * 0.8 s.
 */
import { BusClosedError } from '../errors';
import type { Logger } from '../log';
import { errorText } from '../util/async';
import type { SchemaTransport } from '../transport/interfaces';
import type { ApiSchema } from './types';

export class SchemaRegistry {
  private readonly own = new Map<string, ApiSchema>();
  private readonly builtIn = new Map<string, ApiSchema>();
  private readonly fromFiles = new Map<string, ApiSchema>();
  private remote = new Map<string, ApiSchema>();
  private remoteText = new Map<string, string>();
  private loadedAt = 0;
  private loading: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly transport: () => SchemaTransport,
    private readonly ttlSeconds: number,
    private readonly logger: Logger,
  ) {}

  /** Seconds between refreshes: stored schemas are renewed well before they expire. */
  get refreshSeconds(): number {
    return this.ttlSeconds * 0.8;
  }

  /** Schema of an API this process registered. */
  addOwn(apiName: string, schema: ApiSchema): void {
    this.own.set(apiName, schema);
  }

  /**
   * Schemas of Lightbus's internal APIs (internal.state, internal.metrics):
   * what this version reads their events against, whatever copy (Python's
   * stricter one) the bus holds. Never stored unless the API is registered.
   */
  addBuiltIn(schemas: Record<string, ApiSchema>): void {
    for (const [name, schema] of Object.entries(schemas)) this.builtIn.set(name, schema);
  }

  /** Schemas read from files: used for validation, never stored on the bus. */
  addFromFiles(schemas: Record<string, ApiSchema>): void {
    for (const [name, schema] of Object.entries(schemas)) this.fromFiles.set(name, schema);
  }

  /** The schema known now for an API: own, then built in, then files, then the bus. */
  get(apiName: string): ApiSchema | undefined {
    return (
      this.own.get(apiName) ?? this.builtIn.get(apiName) ?? this.fromFiles.get(apiName) ?? this.remote.get(apiName)
    );
  }

  /** The schema for an API, loading the bus's schemas first if it is unknown and they are stale. */
  async ensure(apiName: string): Promise<ApiSchema | undefined> {
    const known = this.get(apiName);
    if (known) return known;
    if (Date.now() - this.loadedAt >= this.refreshSeconds * 1000) await this.load();
    return this.get(apiName);
  }

  /** Every schema known, by API name (own and file schemas over the bus's). */
  all(): Record<string, ApiSchema> {
    return Object.fromEntries([...this.remote, ...this.fromFiles, ...this.own]);
  }

  /** Reload everyone's schemas from the schema transport (concurrent callers share one load). */
  load(): Promise<void> {
    this.loading ??= (async () => {
      try {
        const loaded = await this.transport().load();
        const next = new Map<string, ApiSchema>();
        const nextText = new Map<string, string>();
        for (const [name, schema] of Object.entries(loaded)) {
          const text = JSON.stringify(schema);
          // Keep the same object for an unchanged schema: compiled validators are cached per object.
          next.set(name, this.remoteText.get(name) === text ? this.remote.get(name)! : schema);
          nextText.set(name, text);
        }
        this.remote = next;
        this.remoteText = nextText;
        this.loadedAt = Date.now();
      } finally {
        this.loading = undefined;
      }
    })();
    return this.loading;
  }

  /** Store this process's own schemas on the bus (with the TTL). */
  async storeOwn(names: Iterable<string> = this.own.keys()): Promise<void> {
    const transport = this.transport();
    for (const name of names) {
      const schema = this.own.get(name);
      if (schema) await transport.store(name, schema, this.ttlSeconds);
    }
  }

  /** While the bus runs: refresh own schemas and reload everyone's, every ttl * 0.8 s. */
  startRefreshing(): void {
    if (this.timer) return;
    const timer = setInterval(() => {
      Promise.all([this.storeOwn(), this.load()]).catch((error: unknown) => {
        // A refresh cut short by the bus closing is expected, not a problem worth a warning.
        if (this.timer !== timer || error instanceof BusClosedError) {
          this.logger.debug('A schema refresh ended because the bus is closing', { error: errorText(error) });
          return;
        }
        this.logger.warn('Refreshing schemas on the bus failed; retrying at the next interval', { error });
      });
    }, this.refreshSeconds * 1000);
    this.timer = timer;
    this.timer.unref();
  }

  stopRefreshing(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
