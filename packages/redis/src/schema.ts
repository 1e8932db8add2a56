/**
 * Schemas on Redis: `SET schema:<api> <json> EX <ttl>` and `SADD schemas <api>`;
 * loading is `SMEMBERS schemas` then `MGET schema:<a> schema:<b> ...`. A member
 * whose key has expired is an API whose workers all stopped: it is left out,
 * and removed from the set (atomically, only if its key is still missing).
 * With key_layout: cluster the set and the keys share the `{lightbus}` hash tag
 * (`{lightbus}:schemas`, `{lightbus}:schema:<api>`): one slot, so the MGET and
 * the script stay valid on a Redis Cluster.
 */
import type { ApiSchema, SchemaTransport, TransportContext } from '@lightbus/core/transport';
import { RedisRole } from './common';
import { isReplyError } from './connection';
import type { RedisSchemaOptions } from './options';

/** Operations on the schema keys wait this long for Redis. */
const SCHEMA_TIMEOUT_MS = 10_000;

/** Remove from the set the members whose schema key is (still) missing. KEYS: schema keys..., the set. */
const REMOVE_STALE_MEMBERS = `
local set = KEYS[#KEYS]
local removed = 0
for i, name in ipairs(ARGV) do
  if redis.call('EXISTS', KEYS[i]) == 0 then
    removed = removed + redis.call('SREM', set, name)
  end
end
return removed`;

export class RedisSchemaTransport extends RedisRole implements SchemaTransport {
  constructor(options: RedisSchemaOptions, context: TransportContext) {
    super(options, context, 5000);
  }

  async store(apiName: string, schema: ApiSchema, ttlSeconds: number): Promise<void> {
    const text = JSON.stringify(schema);
    const ttl = Math.max(1, Math.round(ttlSeconds));
    await this.withRetries(`Storing the schema of API '${apiName}'`, Date.now() + SCHEMA_TIMEOUT_MS, (connection) =>
      connection.pipeline([
        ['SET', this.keys.schema(apiName), text, 'EX', ttl],
        ['SADD', this.keys.schemasSet, apiName],
      ]),
    );
  }

  async load(): Promise<Record<string, ApiSchema>> {
    return this.withRetries(
      'Loading schemas',
      Date.now() + SCHEMA_TIMEOUT_MS,
      async (connection) => {
        const members = await connection.send(['SMEMBERS', this.keys.schemasSet]);
        const names = Array.isArray(members) ? members.map(String).sort() : [];
        if (names.length === 0) return {};
        const values = await connection.send(['MGET', ...names.map((name) => this.keys.schema(name))]);
        const schemas: Record<string, ApiSchema> = {};
        const gone: string[] = [];
        names.forEach((name, index) => {
          const value = Array.isArray(values) ? values[index] : null;
          if (value === null || value === undefined) {
            gone.push(name);
            return;
          }
          try {
            schemas[name] = JSON.parse(String(value)) as ApiSchema;
          } catch {
            this.context.logger.warn(
              `The schema of API '${name}' on Redis is not JSON; ignored. A worker of that API stores it again within its TTL; or delete the key`,
              { key: this.keys.schema(name) },
            );
          }
        });
        if (gone.length > 0) {
          try {
            await connection.send([
              'EVAL',
              REMOVE_STALE_MEMBERS,
              gone.length + 1,
              ...gone.map((name) => this.keys.schema(name)),
              this.keys.schemasSet,
              ...gone,
            ]);
          } catch (error) {
            if (!isReplyError(error)) throw error;
            // Scripts not allowed (ACL): the stale names stay in the set, which is harmless.
            this.context.logger.debug('Could not remove expired APIs from the schemas set', { error: error.message });
          }
        }
        return schemas;
      },
      undefined,
      true, // a caller that needs schemas hears at once that Redis has never been reached
    );
  }
}
