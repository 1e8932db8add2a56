/**
 * The schema role: a last-value store on a stream. store() appends
 * `{api, schema, expires_at}` to the stream `<prefix>.schemas`; load() reads
 * the last `max_ttl` seconds of it (up to a marker it appends, so the read is
 * complete), keeps the latest announcement per API and returns those not yet
 * expired. A process that starts later learns every live API's schema at once:
 * the stream, not the announcer, remembers. Workers re-store their schemas
 * before the ttl runs out; a schema whose ttl passed without a new store is
 * gone from load().
 */
import {
  InvalidParametersError,
  type ApiSchema,
  type SchemaTransport,
  type TransportContext,
  type ConnectionHealth,
} from '@lightbus/core/transport';
import { decodeSchema, encodeSchema, idForLog } from './codec';
import { Link } from './link';
import type { AmqpSchemaOptions } from './options';
import { Publisher } from './publisher';
import { linkSettings } from './settings';
import { closedInstead, readStream, writeMarker } from './stream';
import { Names, schemaStream } from './topology';

export class AmqpSchemaTransport implements SchemaTransport {
  private readonly link: Link;
  private readonly names: Names;
  private readonly publisher: Publisher;

  constructor(
    private readonly options: AmqpSchemaOptions,
    private readonly context: TransportContext,
  ) {
    this.link = new Link(linkSettings(options, 'schema', context), 'schema', context.logger);
    this.names = new Names(options.prefix);
    this.publisher = new Publisher(this.link, true, context.logger);
  }

  async store(apiName: string, schema: ApiSchema, ttlSeconds: number): Promise<void> {
    if (!(ttlSeconds > 0) || ttlSeconds > this.options.max_ttl) {
      throw new InvalidParametersError(
        `Schema ttl ${ttlSeconds}s is outside what the amqp schema transport keeps (0 < ttl <= max_ttl = ${this.options.max_ttl}s). ` +
          `Lower bus.schema.ttl or raise bus.schema.transport.amqp.max_ttl.`,
      );
    }
    await this.link.declareQueue(schemaStream(this.names));
    const encoded = encodeSchema(apiName, schema, Date.now() + ttlSeconds * 1000);
    await this.publisher.publish('', this.names.schemaStream, encoded.content, encoded.properties);
  }

  /** Closed meanwhile (close() cut the read short): fails with BusClosedError. */
  load(): Promise<Record<string, ApiSchema>> {
    return closedInstead([this.link], () => this.read());
  }

  private async read(): Promise<Record<string, ApiSchema>> {
    const stream = this.names.schemaStream;
    await this.link.declareQueue(schemaStream(this.names));
    const marker = await writeMarker(this.publisher, stream);
    const latest = new Map<string, { schema: ApiSchema; expiresAt: number }>();
    const from = new Date(Date.now() - this.options.max_ttl * 1000);
    await readStream(this.link, stream, { kind: 'time', time: from }, marker, (delivery) => {
      const decoded = decodeSchema(delivery);
      if (!decoded.ok) {
        this.context.logger.debug('Skipped an undecodable schema announcement', {
          id: idForLog(delivery),
          reason: decoded.reason,
        });
        return;
      }
      const { apiName, schema, expiresAt } = decoded.value;
      latest.set(apiName, { schema, expiresAt });
    });
    const now = Date.now();
    const out: Record<string, ApiSchema> = {};
    for (const [apiName, { schema, expiresAt }] of latest) if (expiresAt > now) out[apiName] = schema;
    return out;
  }

  /** The link this role has opened, and whether it is up (for `bus.health()`). */
  connections(): ConnectionHealth[] {
    const health = this.link.health();
    return health ? [health] : [];
  }

  async close(): Promise<void> {
    await this.publisher.close();
    await this.link.close();
  }
}
