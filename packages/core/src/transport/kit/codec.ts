/**
 * The one result type of every transport codec: a decoder never throws for bad
 * input from the wire; it says why the message cannot be used, and, when it
 * could read it, the id of the message (or of the call a reply answers), so the
 * transport can log it, set it aside, or fail the call waiting for it.
 */

import { EncodingError } from '../../errors';
import { encodeJson } from '../../message';
import { errorText } from '../../util/async';

export type Decoded<T> =
  | { readonly ok: true; readonly value: T }
  | {
      readonly ok: false;
      /** Why the message cannot be used, for logs and dead letters. */
      readonly reason: string;
      /** The message's id (a reply: the id of the call it answers), when it could be read. */
      readonly id?: string;
    };

/**
 * The JSON text of a value going on the wire (bigints exact, as core's
 * encodeJson writes them). A value JSON cannot carry (a cycle, a function...)
 * raises EncodingError naming `what` ("the parameters of a.b()"), before
 * anything is sent.
 */
export function encodeForWire(value: unknown, what: string): string {
  const subject = what.charAt(0).toUpperCase() + what.slice(1);
  let text: string | undefined;
  try {
    text = encodeJson(value);
  } catch (error) {
    throw new EncodingError(
      `${subject} cannot be sent as JSON: ${errorText(error)}. Send plain data (no cyclic objects).`,
      { cause: error },
    );
  }
  if (text === undefined)
    throw new EncodingError(`${subject} cannot be sent as JSON (got ${typeof value}). Send plain data.`);
  return text;
}

/** A message that decoded. */
export function decoded<T>(value: T): Decoded<T> {
  return { ok: true, value };
}

/** A message that cannot be used, and why. */
export function undecodable<T = never>(reason: string, id?: string): Decoded<T> {
  return id === undefined ? { ok: false, reason } : { ok: false, reason, id };
}
