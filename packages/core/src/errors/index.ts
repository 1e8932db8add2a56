/**
 * The error catalogue. Every error Lightbus raises is a `LightbusError` with a
 * stable `code` (documented in docs/reference/errors.md), a message that says
 * what to do, and the underlying `cause` where there is one.
 * This module is the entry `@lightbus/core/errors`: every error class, for `instanceof`.
 */

export interface LightbusErrorOptions {
  cause?: unknown;
  /** True when trying the same thing again later may succeed (broker down, timeout). */
  retriable?: boolean;
}

export class LightbusError extends Error {
  /** Stable identifier of the kind of error, e.g. `LIGHTBUS_RPC_TIMEOUT`. */
  readonly code: string = 'LIGHTBUS_ERROR';
  readonly retriable: boolean;

  constructor(message: string, options: LightbusErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.retriable = options.retriable ?? false;
  }
}

/** One problem found in a config: where (dotted path) and what. */
export interface ConfigIssue {
  path: string;
  message: string;
}

/** The config file or object is invalid; `issues` names each key and its problem. */
export class ConfigError extends LightbusError {
  override readonly code = 'LIGHTBUS_CONFIG_INVALID';
  readonly issues: readonly ConfigIssue[];
  constructor(source: string, issues: readonly ConfigIssue[], options?: LightbusErrorOptions) {
    const lines = issues.map((i) => (i.path ? `  - ${i.path}: ${i.message}` : `  - ${i.message}`));
    super(`Invalid Lightbus config (${source}):\n${lines.join('\n')}`, options);
    this.issues = issues;
  }
}

/** The config file given (by option, LIGHTBUS_CONFIG or --config) does not exist or cannot be read. */
export class ConfigFileError extends LightbusError {
  override readonly code = 'LIGHTBUS_CONFIG_FILE';
}

/** An API, procedure, event or listener name breaks the naming rules. */
export class InvalidNameError extends LightbusError {
  override readonly code = 'LIGHTBUS_INVALID_NAME';
}

/** An API class cannot be registered (no meta, registered twice, ...). */
export class InvalidApiError extends LightbusError {
  override readonly code = 'LIGHTBUS_INVALID_API';
}

/** The API is not known to this process (not registered, no schema) where it must be. */
export class UnknownApiError extends LightbusError {
  override readonly code = 'LIGHTBUS_UNKNOWN_API';
}

export class UnknownProcedureError extends LightbusError {
  override readonly code = 'LIGHTBUS_UNKNOWN_PROCEDURE';
}

export class UnknownEventError extends LightbusError {
  override readonly code = 'LIGHTBUS_UNKNOWN_EVENT';
}

/** Parameters of a call or an event are missing, unknown or not one object. */
export class InvalidParametersError extends LightbusError {
  override readonly code = 'LIGHTBUS_INVALID_PARAMETERS';
}

/** Firing an event of an API this process did not register. */
export class ApiNotRegisteredError extends LightbusError {
  override readonly code = 'LIGHTBUS_API_NOT_REGISTERED';
}

/** No result arrived before the call's deadline (`rpc_timeout`). */
export class RpcTimeoutError extends LightbusError {
  override readonly code = 'LIGHTBUS_RPC_TIMEOUT';
  constructor(
    readonly apiName: string,
    readonly procedureName: string,
    readonly timeoutSeconds: number,
    hint = '',
  ) {
    super(
      `No result for ${apiName}.${procedureName}() within ${timeoutSeconds}s (rpc_timeout). ` +
        (hint ||
          `Check that a worker serving API '${apiName}' is running and reachable, ` +
            `or raise apis.${apiName}.rpc_timeout.`),
      { retriable: true },
    );
  }
}

/** The event transport did not accept an event within `event_fire_timeout`. */
export class EventFireTimeoutError extends LightbusError {
  override readonly code = 'LIGHTBUS_EVENT_FIRE_TIMEOUT';
  constructor(
    readonly apiName: string,
    readonly eventName: string,
    readonly timeoutSeconds: number,
  ) {
    super(
      `Firing ${apiName}.${eventName} did not complete within ${timeoutSeconds}s (event_fire_timeout). ` +
        `Check that the event transport's broker is reachable.`,
      { retriable: true },
    );
  }
}

/** The remote procedure threw: carries the remote message, error type and stack. */
export class RemoteError extends LightbusError {
  override readonly code = 'LIGHTBUS_REMOTE_ERROR';
  constructor(
    readonly apiName: string,
    readonly procedureName: string,
    /** The message of the error raised by the remote procedure. */
    readonly remoteMessage: string,
    /** Its class name (`TypeError`, `ValueError`, ...) where the remote side told it. */
    readonly remoteType: string | undefined,
    /** The remote stack trace (JavaScript stack or Python traceback). */
    readonly remoteStack: string | undefined,
  ) {
    super(
      `${apiName}.${procedureName}() failed in the worker: ${remoteType ? `${remoteType}: ` : ''}${remoteMessage}` +
        (remoteStack ? `\nRemote stack trace:\n${remoteStack}` : ''),
    );
  }
}

/** A config names a transport whose package is not installed. */
export class TransportNotFoundError extends LightbusError {
  override readonly code = 'LIGHTBUS_TRANSPORT_NOT_INSTALLED';
}

/** A transport is asked for something it cannot do (a role it lacks, replay, ...). */
export class TransportCapabilityError extends LightbusError {
  override readonly code = 'LIGHTBUS_TRANSPORT_UNSUPPORTED';
}

/** The broker cannot be reached or the connection failed. */
export class BrokerConnectionError extends LightbusError {
  override readonly code = 'LIGHTBUS_BROKER_UNAVAILABLE';
  constructor(message: string, options: LightbusErrorOptions = {}) {
    super(message, { retriable: true, ...options });
  }
}

/** Two listeners with the same listener name on one bus. */
export class DuplicateListenerError extends LightbusError {
  override readonly code = 'LIGHTBUS_DUPLICATE_LISTENER';
}

/** A listener, background task or hook failed and the worker must stop (exit 1). */
export class WorkerFailedError extends LightbusError {
  override readonly code = 'LIGHTBUS_WORKER_FAILED';
}

/**
 * Thrown by a consumer's handler to say "this message is poison": it cannot be
 * decoded or fails validation. Transports set it aside (dead letter), acknowledge
 * it and keep consuming; they never redeliver it.
 */
export class MessageRejectedError extends LightbusError {
  override readonly code = 'LIGHTBUS_MESSAGE_REJECTED';
}

/**
 * Whether `error` marks a poison message: a MessageRejectedError, also one made by
 * another copy of @lightbus/core (two versions in node_modules), known by its code.
 * Transports use this rather than `instanceof`.
 */
export function isMessageRejected(error: unknown): error is MessageRejectedError {
  return (
    error instanceof MessageRejectedError ||
    (error as { code?: unknown } | undefined)?.code === 'LIGHTBUS_MESSAGE_REJECTED'
  );
}

/** The bus was closed; create a new one. */
export class BusClosedError extends LightbusError {
  override readonly code = 'LIGHTBUS_BUS_CLOSED';
}

/** The bus module given to `lightbus run` cannot be loaded or exports no bus. */
export class BusModuleError extends LightbusError {
  override readonly code = 'LIGHTBUS_BUS_MODULE';
}

/** Parameters or results break the API's JSON Schema. */
export class ValidationError extends LightbusError {
  override readonly code = 'LIGHTBUS_VALIDATION';
}

/** A schema file given to `--schema` (or written by dumpschema) cannot be read or has the wrong shape. */
export class SchemaFileError extends LightbusError {
  override readonly code = 'LIGHTBUS_SCHEMA_FILE';
}

/** A value JSON cannot carry (function, symbol, cyclic object, ...) was given. */
export class EncodingError extends LightbusError {
  override readonly code = 'LIGHTBUS_ENCODING';
}

/**
 * A reply arrived for a call that is still waiting, but it cannot be read (not
 * JSON, or missing the fields of a result). The call fails at once with this
 * error rather than waiting for its timeout.
 */
export class UndecodableResultError extends LightbusError {
  override readonly code = 'LIGHTBUS_UNDECODABLE_RESULT';
}

/**
 * A feature needs a package that is an optional peer of @lightbus/core and is
 * not installed (tsx to run a TypeScript bus module, json-schema-to-typescript
 * for `lightbus codegen`). The message names the install command.
 */
export class MissingPackageError extends LightbusError {
  override readonly code = 'LIGHTBUS_MISSING_PACKAGE';
}

/**
 * A worker cannot send a result back: the call's return path belongs to
 * another result transport (the caller and the worker configure different
 * `result_transport`s for the API, or the call came over a transport that
 * cannot carry this return path). The result is dropped and logged by the
 * worker; the caller times out. Not retriable: the fix is the config.
 */
export class ForeignReturnPathError extends LightbusError {
  override readonly code = 'LIGHTBUS_FOREIGN_RETURN_PATH';
}
