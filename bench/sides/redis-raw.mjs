// Raw ioredis, the best pattern it allows for the work Lightbus does on Redis:
// - RPC: the caller RPUSHes the call (JSON) on the API's list; the worker runs 8 BLPOP loops (one
//   connection each) and LPUSHes the result on the caller's result list; the caller reads that
//   list with 8 BLPOP loops and routes results by call id. Writes use ioredis auto-pipelining.
// - Events: XADD (MAXLEN ~, as Lightbus trims), auto-pipelined; one consumer in a group reads
//   XREADGROUP COUNT 100 BLOCK and acknowledges each batch with one XACK sent with the next read.
// params: { api, url }
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { deferred, inFlight, sequential } from '../lib/measure.mjs';

const LOOPS = 8;

function connections(url) {
  const open = [];
  return {
    connect(autoPipelining = false) {
      const c = new Redis(url, { enableAutoPipelining: autoPipelining, maxRetriesPerRequest: null });
      open.push(c);
      return c;
    },
    close: () => Promise.all(open.map((c) => c.quit())),
  };
}

const names = (api) => ({ queue: `${api}:rpc_queue`, stream: `${api}.*:stream` });

export async function worker(params, handled) {
  const { queue, stream } = names(params.api);
  const redis = connections(params.url);
  const commands = redis.connect(true);
  let stopping = false;
  const loops = Array.from({ length: LOOPS }, async () => {
    const blocking = redis.connect();
    while (!stopping) {
      const popped = await blocking.blpop(queue, 1);
      if (!popped) continue;
      const call = JSON.parse(popped[1]);
      const result = JSON.stringify({ id: call.id, result: { n: call.kwargs.n, text: call.kwargs.text } });
      void commands.lpush(call.reply, result);
    }
  });

  const consumer = redis.connect();
  await consumer.xgroup('CREATE', stream, 'count', '$', 'MKSTREAM');
  const consuming = (async () => {
    let toAck = [];
    while (!stopping) {
      const ack = toAck.length ? consumer.xack(stream, 'count', ...toAck) : undefined; // leaves with the read
      toAck = [];
      const reply = await consumer.xreadgroup(
        'GROUP',
        'count',
        'c',
        'COUNT',
        100,
        'BLOCK',
        1000,
        'STREAMS',
        stream,
        '>',
      );
      await ack;
      for (const [, entries] of reply ?? []) {
        for (const [id, fields] of entries) {
          const kwargs = {};
          for (let i = 8; i < fields.length; i += 2) kwargs[fields[i].slice(1)] = JSON.parse(fields[i + 1]);
          if (kwargs.n !== undefined) handled();
          toAck.push(id);
        }
      }
    }
    if (toAck.length) await consumer.xack(stream, 'count', ...toAck);
  })();

  return {
    close: async () => {
      stopping = true;
      await Promise.all([...loops, consuming]);
      await commands.del(queue, stream);
      await redis.close();
    },
  };
}

export async function driver(params) {
  const { queue, stream } = names(params.api);
  const redis = connections(params.url);
  const commands = redis.connect(true);
  const resultKey = `${params.api}:results:${randomUUID()}`;
  const waiting = new Map();
  let stopping = false;
  const readers = Array.from({ length: LOOPS }, async () => {
    const blocking = redis.connect();
    while (!stopping) {
      const popped = await blocking.blpop(resultKey, 1);
      if (!popped) continue;
      const result = JSON.parse(popped[1]);
      waiting.get(result.id)?.resolve(result.result);
      waiting.delete(result.id);
    }
  });
  const call = async (n) => {
    const id = randomUUID();
    const box = deferred();
    waiting.set(id, box);
    await commands.rpush(queue, JSON.stringify({ id, reply: resultKey, kwargs: { n, text: 'hello' } }));
    return box.promise;
  };
  const fire = (n) =>
    commands.xadd(
      stream,
      'MAXLEN',
      '~',
      100000,
      '*',
      'id',
      randomUUID(),
      'api_name',
      params.api,
      'event_name',
      'happened',
      'version',
      '1',
      ':n',
      JSON.stringify(n),
      ':text',
      JSON.stringify('hello'),
    );
  return {
    rpcSequential: (count) => sequential(call, count),
    rpcInFlight: (count, n) => inFlight(call, count, n),
    fire: (count, n) => inFlight(fire, count, n),
    close: async () => {
      stopping = true;
      await Promise.all(readers);
      await commands.del(resultKey);
      await redis.close();
    },
  };
}
