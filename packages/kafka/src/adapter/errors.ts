/** Turning kafkajs errors into Lightbus errors that say what to check. */
import { BrokerConnectionError, LightbusError, errorText } from '@lightbus/core/transport';

interface KafkaJsErrorLike {
  name?: string;
  type?: string;
  message?: string;
  retriable?: boolean;
  cause?: unknown;
}

const CONNECTION_ERRORS = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSBrokerNotFound',
  'KafkaJSRequestTimeoutError',
  'KafkaJSNoBrokerAvailableError',
  'KafkaJSLockTimeout',
]);

function chain(error: unknown): KafkaJsErrorLike[] {
  const out: KafkaJsErrorLike[] = [];
  let current: unknown = error;
  for (let depth = 0; current && typeof current === 'object' && depth < 8; depth++) {
    out.push(current as KafkaJsErrorLike);
    current = (current as KafkaJsErrorLike).cause ?? (current as { originalError?: unknown }).originalError;
  }
  return out;
}

/** The kafkajs protocol error type (e.g. TOPIC_AUTHORIZATION_FAILED) anywhere in the cause chain. */
export function kafkaErrorType(error: unknown): string | undefined {
  for (const link of chain(error)) if (typeof link.type === 'string') return link.type;
  return undefined;
}

export function isConnectionFailure(error: unknown): boolean {
  return chain(error).some(
    (link) =>
      (link.name !== undefined && CONNECTION_ERRORS.has(link.name)) ||
      /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND/.test(link.message ?? ''),
  );
}

export function isUnsupportedApi(error: unknown): boolean {
  return chain(error).some(
    (link) => link.name === 'KafkaJSServerDoesNotSupportApiKey' || link.type === 'UNSUPPORTED_VERSION',
  );
}

export function isAuthorizationFailure(error: unknown): boolean {
  const type = kafkaErrorType(error);
  return type !== undefined && /AUTHORIZATION_FAILED$/.test(type);
}

export function isRebalanceError(error: unknown): boolean {
  const type = kafkaErrorType(error);
  return (
    type === 'REBALANCE_IN_PROGRESS' ||
    type === 'NOT_COORDINATOR_FOR_GROUP' ||
    type === 'ILLEGAL_GENERATION' ||
    type === 'UNKNOWN_MEMBER_ID'
  );
}

/** The deepest message in the chain: kafkajs wraps the useful one in retry errors. */
export function rootMessage(error: unknown): string {
  const links = chain(error);
  for (let i = links.length - 1; i >= 0; i--) if (links[i]!.message) return links[i]!.message!;
  return errorText(error);
}

/** The error for brokers that do not answer: names them, what was being done, and what to check. */
export function unreachableError(
  brokers: string,
  action: string,
  cause: unknown,
  problem = rootMessage(cause),
): BrokerConnectionError {
  return new BrokerConnectionError(
    `Cannot reach Kafka at ${brokers} while ${action}: ${problem}. ` +
      'Check that the brokers are running and reachable from this host, and that the ssl/sasl options match the broker listener.',
    { cause },
  );
}

/**
 * A Lightbus error for a kafkajs failure while doing `action`: connection
 * problems become BrokerConnectionError naming the brokers and what to check;
 * authentication and authorization failures say so; others keep their text.
 */
export function toLightbusError(error: unknown, brokers: string, action: string): LightbusError {
  if (error instanceof LightbusError) return error;
  const names = chain(error).map((link) => link.name);
  if (names.includes('KafkaJSSASLAuthenticationError')) {
    return new BrokerConnectionError(
      `Kafka at ${brokers} refused the SASL login while ${action}: ${rootMessage(error)}. Check the sasl mechanism, username and password.`,
      { cause: error, retriable: false },
    );
  }
  if (isConnectionFailure(error)) return unreachableError(brokers, action, error);
  if (isAuthorizationFailure(error)) {
    return new LightbusError(
      `Kafka at ${brokers} refused ${action}: ${kafkaErrorType(error)}. Grant this client the ACLs it needs (see docs/reference/transports/kafka.md).`,
      { cause: error },
    );
  }
  const retriable = chain(error).some(
    (link) => link.retriable === true || link.name === 'KafkaJSNumberOfRetriesExceeded',
  );
  return new LightbusError(`Kafka error while ${action}: ${rootMessage(error)}`, { cause: error, retriable });
}
