/** How the memory transport reads an event back from the JSON text it keeps. */
import { decodeJson, type EventMessage } from '../../message';
import { decoded, undecodable } from '../kit/codec';
import type { ReceivedEvent } from '../kit/settle';
import type { StreamEntry } from './broker';

export function decodeEvent(entry: Pick<StreamEntry, 'payload' | 'seq' | 'time'>): ReceivedEvent {
  let message: Partial<EventMessage> | null;
  try {
    message = decodeJson(entry.payload) as Partial<EventMessage> | null;
  } catch {
    return undecodable('the payload is not JSON');
  }
  if (!message || typeof message.id !== 'string' || typeof message.kwargs !== 'object') {
    return undecodable('not an event message (no string id or no kwargs object)');
  }
  return decoded({ ...(message as EventMessage), nativeId: String(entry.seq), time: entry.time });
}
