/**
 * The Lua scripts of the RPC path. Each runs right behind a blocking read, in
 * the same write (see BlockingLoop.followUp): Redis runs it the moment the read
 * returns, so what it does costs no round trip of its own. They only do what
 * Python Lightbus's own commands do to the shared keys (LPOP/LTRIM a list, DEL
 * an expiry key), so Python peers see the same bus.
 */
import { createHash } from 'node:crypto';
import { isReplyError, type Command, type RedisConnection, type Reply } from './connection';
import { rpcExpiryKey } from './wire';

export class LuaScript {
  readonly sha: string;

  constructor(readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  /** `EVALSHA` of this script (cheap on the wire; NOSCRIPT until Redis has seen it, see `reply`). */
  command(keys: readonly string[], args: ReadonlyArray<string | number>): Command {
    return ['EVALSHA', this.sha, keys.length, ...keys, ...args];
  }

  /**
   * The reply of `command(keys, args)` sent earlier: when Redis did not know the script yet (first use,
   * a restart, SCRIPT FLUSH) it is run now with `EVAL`, which also caches it. Other refusals throw.
   */
  async reply(
    sent: Reply | Error,
    connection: RedisConnection,
    keys: readonly string[],
    args: ReadonlyArray<string | number>,
  ): Promise<Reply> {
    if (!(sent instanceof Error)) return sent;
    if (!isReplyError(sent) || !sent.message.startsWith('NOSCRIPT')) throw sent;
    return connection.send(['EVAL', this.source, keys.length, ...keys, ...args]);
  }
}

/** The prefix of an expiry key: the script names the key of each call it claims as the worker's DEL does. */
const EXPIRY_PREFIX = rpcExpiryKey('');

/**
 * A worker claims the calls it took. KEYS[1] is its private list, where `BLMOVE <queue> <list> LEFT LEFT`
 * (sent just before) put the call it waited for; KEYS[2] the API's queue; ARGV[1] how many more calls
 * to take from the queue (free slots). For each call taken: `DEL rpc_expiry_key:<metadata.id>`, as
 * Python's worker does after its BLPOP. Returns `[blob, deleted, id, ...]`: deleted is DEL's reply
 * (1: run it, 0: its caller gave up) or -1 when the script could not read the id (the worker decodes
 * the call itself and DELs, or sets it aside). Nothing moved (the read timed out or was unblocked):
 * takes nothing, returns an empty list.
 */
export const CLAIM_CALLS = new LuaScript(`
local taken = {}
local function claim(blob)
  local ok, call = pcall(cjson.decode, blob)
  local id = nil
  if ok and type(call) == 'table' and type(call.metadata) == 'table' then id = call.metadata.id end
  taken[#taken + 1] = blob
  if type(id) == 'string' and id ~= '' then
    taken[#taken + 1] = redis.call('DEL', '${EXPIRY_PREFIX}' .. id)
    taken[#taken + 1] = id
  else
    taken[#taken + 1] = -1
    taken[#taken + 1] = ''
  end
end
local first = redis.call('LPOP', KEYS[1])
if not first then return taken end
claim(first)
local more = tonumber(ARGV[1])
if more > 0 then
  local calls = redis.call('LRANGE', KEYS[2], 0, more - 1)
  if #calls > 0 then redis.call('LTRIM', KEYS[2], #calls, -1) end
  for _, blob in ipairs(calls) do claim(blob) end
end
return taken
`);

/** A call the claim script took: its blob and whether its expiry key was deleted (undefined: not checked). */
export interface ClaimedCall {
  readonly blob: string;
  readonly deleted: number | undefined;
  readonly id: string;
}

export function parseClaimed(reply: Reply): ClaimedCall[] {
  if (!Array.isArray(reply)) return [];
  const calls: ClaimedCall[] = [];
  for (let i = 0; i + 2 < reply.length; i += 3) {
    const deleted = Number(reply[i + 1]);
    calls.push({ blob: String(reply[i]), deleted: deleted < 0 ? undefined : deleted, id: String(reply[i + 2]) });
  }
  return calls;
}

/** A caller takes every result waiting in its result list (KEYS[1]) at once, and empties it. */
export const TAKE_RESULTS = new LuaScript(`
local results = redis.call('LRANGE', KEYS[1], 0, -1)
if #results > 0 then redis.call('DEL', KEYS[1]) end
return results
`);
