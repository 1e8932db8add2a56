/**
 * The options of each role, declared once with TypeBox: core validates a
 * config against these schemas (naming the key on error), fills the defaults,
 * and the factories receive the static types derived from them. The keys are
 * Python Lightbus's, so one lightbus.yaml serves Python and TypeScript
 * services. Python's keys this side has no use for are accepted and ignored
 * with a warning; `concurrency` and `delivery_limit` are TypeScript's own (a
 * Python service refuses them: core warns when a shared file has them).
 */
import { Type, type Static } from '@sinclair/typebox';
import { deliveryLimitOption } from '@lightbus/core/transport';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379/0';

const Url = Type.String({
  pattern: '^rediss?://',
  default: DEFAULT_REDIS_URL,
  description:
    'Redis server: redis://[[user]:password@]host[:port][/db], or rediss://... for TLS. ' +
    'The password never appears in logs or errors.',
  errorHint: 'must be a redis:// or rediss:// URL, e.g. redis://127.0.0.1:6379/0',
});

/**
 * Keys Python Lightbus takes that this transport has no use for: accepted, so
 * one lightbus.yaml serves both, and ignored with a warning at start.
 */
const pythonOnly = (description: string) =>
  Type.Optional(
    Type.Unknown({ description: `Python Lightbus only: accepted and ignored here, with a warning. ${description}` }),
  );
const PYTHON_CODEC = {
  serializer: pythonOnly(
    "Python's message serializer class; this transport always writes the format of Python's default one.",
  ),
  deserializer: pythonOnly(
    "Python's message deserializer class; this transport always reads the format of Python's default one.",
  ),
  connection_parameters: pythonOnly('Python client connection settings; give them in the url instead.'),
};

/**
 * Redis Sentinel: the sentinels to ask where the master of `master_name` is
 * (ioredis's sentinel support). The url still gives the database, user,
 * password and TLS of the data nodes; its host and port are not used.
 */
const sentinelProperties = {
  sentinels: Type.Array(
    Type.String({
      pattern: '^[^\\s:]+:[0-9]+$',
      errorHint: 'must be host:port, e.g. 10.0.0.5:26379',
    }),
    {
      minItems: 1,
      description: 'The sentinels, each as host:port. The first one that answers says where the master is.',
    },
  ),
  master_name: Type.String({
    minLength: 1,
    description: 'The name the sentinels monitor the master under (`sentinel monitor <master_name> ...`).',
  }),
  password: Type.Optional(
    Type.String({
      description:
        "The sentinels' own password (their requirepass), when they have one; the data nodes' is in the url.",
    }),
  ),
};
export const SentinelOption = Type.Object(sentinelProperties, { additionalProperties: false });
export type SentinelOption = Static<typeof SentinelOption>;

const Sentinel = Type.Optional(
  Type.Object(sentinelProperties, {
    additionalProperties: false,
    description:
      'Connect through Redis Sentinel (TypeScript only): {sentinels: [host:port, ...], master_name, password?}. ' +
      "Every connection asks the sentinels for the current master, and again after a failover. The url's host and " +
      'port are then not used; its database, password and TLS are. See docs/how-to/scale-out.md.',
  }),
);

/**
 * Redis Cluster: the nodes to ask for the cluster's layout (ioredis's Cluster). The url still gives the user,
 * password and TLS of every node; its host and port are not used, and its database must be 0 (a cluster has no other).
 */
const clusterProperties = {
  nodes: Type.Array(
    Type.String({
      pattern: '^[^\\s:]+:[0-9]+$',
      errorHint: 'must be host:port, e.g. 10.0.0.5:6379',
    }),
    {
      minItems: 1,
      description:
        'Some nodes of the cluster, each as host:port (masters or replicas). The first that answers gives the ' +
        'layout of the whole cluster; name several so a client starts while one is down.',
    },
  ),
};
export const ClusterOption = Type.Object(clusterProperties, { additionalProperties: false });
export type ClusterOption = Static<typeof ClusterOption>;

const Cluster = Type.Optional(
  Type.Object(clusterProperties, {
    additionalProperties: false,
    description:
      'Connect to a Redis Cluster (TypeScript only): {nodes: [host:port, ...]}. Every key goes to the master of its ' +
      "slot; keys are laid out so no command spans two slots (key_layout: cluster, the default with this key). The url's " +
      'host and port are then not used; its user, password and TLS are, and its database must be 0. See ' +
      'docs/how-to/scale-out.md.',
  }),
);

export type KeyLayout = 'python' | 'cluster';

const KeyLayoutOption = Type.Optional(
  Type.Union([Type.Literal('python'), Type.Literal('cluster')], {
    description:
      "How keys are named. 'python': Python Lightbus's names (<api>:rpc_queue, <api>.*:stream, schema:<api>...), " +
      'required to share a bus with Python services; the default without `cluster`. ' +
      "'cluster' (TypeScript only): the API name in a hash tag ({<api>}:rpc_queue, {<api>}.*:stream, " +
      '{lightbus}:schema:<api>...), so that every key of one API is in one slot of a Redis Cluster and different ' +
      'APIs spread over its masters; the default with `cluster`, the only layout a cluster accepts. Every service ' +
      'sharing the keys must use the same layout.',
    errorHint: "must be 'python' or 'cluster'",
  }),
);

/** A db other than 0 in a url, e.g. redis://host/3 or redis://host/3?x: not allowed with `cluster`. */
const URL_WITH_DB_0_ONLY = '^rediss?://[^/?#]*(/0?)?([?#].*)?$';

/**
 * What the options of every role must hold together (checked with the config at create()): Sentinel or Cluster,
 * not both; with a cluster, the cluster key layout and database 0. Each names the key to change.
 */
const has = (key: string, schema: Record<string, unknown> = {}) => ({ properties: { [key]: schema }, required: [key] });
const consistency = [
  {
    anyOf: [{ not: has('cluster') }, { not: has('sentinel') }],
    errorHint:
      'sets both sentinel and cluster: give one (sentinel for one master with failover, cluster for a Redis Cluster)',
  },
  {
    anyOf: [{ not: has('cluster') }, { not: has('key_layout', { const: 'python' }) }],
    errorHint:
      'has cluster with key_layout: python, whose commands span several slots (a cluster refuses them: BLPOP and ' +
      'XREADGROUP over several APIs, the schemas MGET...): set key_layout: cluster (or leave it out; it is the default ' +
      'with cluster). Python Lightbus cannot use a Redis Cluster, so nothing needs the python layout there',
  },
  {
    anyOf: [{ not: has('cluster') }, { properties: { url: { pattern: URL_WITH_DB_0_ONLY } } }],
    errorHint:
      'has cluster with a url naming a database other than 0: a Redis Cluster has database 0 only (end the url in /0)',
  },
];

const ConsumptionRestartDelay = Type.Number({
  exclusiveMinimum: 0,
  default: 5,
  description:
    'Longest wait in seconds between attempts to reconnect and resume consuming after the connection to Redis ' +
    'is lost. Attempts back off from 0.1 s up to this value.',
});

export const RedisRpcOptions = Type.Object(
  {
    url: Url,
    sentinel: Sentinel,
    cluster: Cluster,
    key_layout: KeyLayoutOption,
    rpc_timeout: Type.Number({
      exclusiveMinimum: 0,
      default: 5,
      description:
        "Lifetime in seconds of a call's expiry key when the call carries no deadline of its own. Calls made " +
        "through the client always carry one (the API's rpc_timeout), so this is a fallback kept for configs " +
        'shared with Python Lightbus.',
    }),
    rpc_retry_delay: Type.Number({
      minimum: 0,
      default: 1,
      description:
        'Seconds to wait before trying again to send a call that certainly did not leave (the connection was not ' +
        "ready to write it). Attempts stop at the call's deadline. A call that may have reached Redis is never sent again.",
    }),
    consumption_restart_delay: ConsumptionRestartDelay,
    concurrency: Type.Integer({
      minimum: 1,
      default: 10,
      description:
        'How many calls one worker process executes at once (TypeScript only; Python workers run one at a time).',
    }),
    batch_size: pythonOnly('How many calls a Python worker takes from the queue at once; here, see concurrency.'),
    ...PYTHON_CODEC,
  },
  { additionalProperties: false, allOf: consistency },
);

export const RedisResultOptions = Type.Object(
  {
    url: Url,
    sentinel: Sentinel,
    cluster: Cluster,
    key_layout: KeyLayoutOption,
    result_ttl: Type.Integer({
      minimum: 1,
      default: 60,
      description:
        'Seconds a result list lives after a worker pushed a result into it (EXPIRE), so unread results vanish.',
    }),
    rpc_timeout: Type.Number({
      exclusiveMinimum: 0,
      default: 5,
      description:
        'Seconds a worker keeps trying to deliver a result while Redis is unreachable; after that the caller has ' +
        "timed out anyway. (The caller's own wait is the API's rpc_timeout.)",
    }),
    ...PYTHON_CODEC,
  },
  { additionalProperties: false, allOf: consistency },
);

export const RedisEventOptions = Type.Object(
  {
    url: Url,
    sentinel: Sentinel,
    cluster: Cluster,
    key_layout: KeyLayoutOption,
    batch_size: Type.Integer({
      minimum: 1,
      default: 10,
      description:
        'Events read from Redis in one XREADGROUP while the listener keeps up; while reads come back full (a backlog), each ' +
        'read asks for twice as many, up to 10 x batch_size. Handled in order, each acknowledged as soon as its handler finished.',
    }),
    reclaim_batch_size: Type.Union([Type.Integer({ minimum: 1 }), Type.Null()], {
      default: null,
      description: 'Most pending entries inspected per XPENDING page when reclaiming (null: batch_size x 10).',
      errorHint: 'must be a positive integer or null',
    }),
    delivery_limit: deliveryLimitOption(
      'Counted by Redis (the delivery count XPENDING shows): a failing event comes back after acknowledgement_timeout, or ' +
        'when its consumer restarts under the same name.',
    ),
    acknowledgement_timeout: Type.Number({
      exclusiveMinimum: 0,
      default: 60,
      description:
        'Seconds an event may stay delivered but unacknowledged before another consumer of the group takes it ' +
        '(the consumer is presumed dead). Longer than your slowest handler.',
    }),
    reclaim_interval: Type.Union([Type.Number({ exclusiveMinimum: 0 }), Type.Null()], {
      default: null,
      description: 'Seconds between looks for events to reclaim from dead consumers (null: acknowledgement_timeout).',
      errorHint: 'must be a positive number or null',
    }),
    max_stream_length: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], {
      default: 100000,
      description:
        'Approximate length each stream is trimmed to when an event is added (XADD MAXLEN ~). 0 or null: never trim.',
      errorHint: 'must be a non-negative integer or null',
    }),
    stream_use: Type.Union([Type.Literal('per_api'), Type.Literal('per_event')], {
      default: 'per_api',
      description:
        "One stream per API ('per_api': <api>.*:stream, the default) or one per event ('per_event': " +
        '<api>.<event>:stream). Every service sharing the events must use the same value.',
      errorHint: "must be 'per_api' or 'per_event'",
    }),
    wait_for_replicas: Type.Integer({
      minimum: 0,
      default: 0,
      description:
        'TypeScript only. After each XADD, wait (WAIT) until this many replicas have the event before fire() resolves; ' +
        'if fewer confirm within replica_timeout, fire() rejects (the event is on the master and may still be delivered, ' +
        'but a failover now could lose it). 0: do not wait (Redis replicates asynchronously: a failover can lose the ' +
        'last events fired before it).',
    }),
    replica_timeout: Type.Number({
      exclusiveMinimum: 0,
      default: 1,
      description: 'Seconds fire() waits for wait_for_replicas replicas to confirm an event.',
    }),
    consumption_restart_delay: ConsumptionRestartDelay,
    consumer_ttl: Type.Integer({
      minimum: 0,
      default: 2592000,
      description:
        'When a listener starts, consumers of the stream idle for this many seconds and holding no pending events ' +
        'are removed from their groups (XGROUP DELCONSUMER). 0: never remove any.',
    }),
    service_name: pythonOnly(
      "Python's per-transport service name; consumer groups are named from the top-level service_name.",
    ),
    consumer_name: pythonOnly(
      "Python's per-transport consumer name; consumers are named from the top-level process_name.",
    ),
    ...PYTHON_CODEC,
  },
  { additionalProperties: false, allOf: consistency },
);

export const RedisSchemaOptions = Type.Object(
  {
    url: Url,
    sentinel: Sentinel,
    cluster: Cluster,
    key_layout: KeyLayoutOption,
    connection_parameters: PYTHON_CODEC.connection_parameters,
  },
  { additionalProperties: false, allOf: consistency },
);

/** The key layout a role's options select: key_layout, else 'cluster' with a cluster and 'python' without. */
export function keyLayoutOf(options: { readonly key_layout?: KeyLayout; readonly cluster?: ClusterOption }): KeyLayout {
  return options.key_layout ?? (options.cluster ? 'cluster' : 'python');
}

export type RedisRpcOptions = Static<typeof RedisRpcOptions>;
export type RedisResultOptions = Static<typeof RedisResultOptions>;
export type RedisEventOptions = Static<typeof RedisEventOptions>;
export type RedisSchemaOptions = Static<typeof RedisSchemaOptions>;
