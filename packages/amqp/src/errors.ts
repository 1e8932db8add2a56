/** The errors this transport adds to core's catalogue (docs/reference/transports/amqp.md). */
import { LightbusError } from '@lightbus/core/transport';

/** A queue or exchange declaration RabbitMQ refused (arguments differ from the existing one, no permission, ...). */
export class AmqpDeclarationError extends LightbusError {
  override readonly code = 'LIGHTBUS_AMQP_DECLARATION';
}

/** Reading a stream queue (replay, history, schemas) failed. */
export class StreamReadError extends LightbusError {
  override readonly code = 'LIGHTBUS_AMQP_STREAM_READ';
}

/**
 * RabbitMQ returned a call published with `mandatory` because no queue took it: the API's
 * RPC queue was deleted after this process declared it. The call was not delivered
 * anywhere, so calling again is safe; the queue is declared again before the next call.
 */
export class RpcQueueMissingError extends LightbusError {
  override readonly code = 'LIGHTBUS_AMQP_RPC_QUEUE_MISSING';
}

/**
 * A dead letter cannot be replayed: the queue it was taken from (its consumer
 * group's queue) no longer exists, so nothing would receive it. It is kept.
 */
export class DeadLetterTargetMissingError extends LightbusError {
  override readonly code = 'LIGHTBUS_AMQP_DEAD_LETTER_TARGET_MISSING';
}
