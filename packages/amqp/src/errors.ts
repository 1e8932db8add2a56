/** The errors this transport adds to core's catalogue (docs/reference/transports/amqp.md). */
import { LightbusError } from '@lightbus/core';

/** A queue or exchange declaration RabbitMQ refused (arguments differ from the existing one, no permission, ...). */
export class AmqpDeclarationError extends LightbusError {
  override readonly code = 'LIGHTBUS_AMQP_DECLARATION';
}

/** Reading a stream queue (replay, history, schemas) failed. */
export class StreamReadError extends LightbusError {
  override readonly code = 'LIGHTBUS_AMQP_STREAM_READ';
}
