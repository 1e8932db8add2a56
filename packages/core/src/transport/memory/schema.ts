/** The memory transport's schema role: schemas with a TTL in the in-process broker. */
import { decodeJson, encodeJson } from '../../message';
import type { ApiSchema } from '../../schema/types';
import type { SchemaTransport } from '../interfaces';
import { memoryBroker, type MemoryBroker } from './broker';

export class MemorySchemaTransport implements SchemaTransport {
  private readonly broker: MemoryBroker;
  constructor(options: { name: string }) {
    this.broker = memoryBroker(options.name);
  }

  async store(apiName: string, schema: ApiSchema, ttlSeconds: number): Promise<void> {
    this.broker.schemas.set(apiName, {
      schema: decodeJson(encodeJson(schema)) as ApiSchema,
      expiresAt: Date.now() + ttlSeconds * 1000,
    });
  }

  async load(): Promise<Record<string, ApiSchema>> {
    const now = Date.now();
    const out: Record<string, ApiSchema> = {};
    for (const [name, { schema, expiresAt }] of this.broker.schemas) {
      if (expiresAt > now) out[name] = schema;
      else this.broker.schemas.delete(name);
    }
    return out;
  }

  async close(): Promise<void> {}
}
