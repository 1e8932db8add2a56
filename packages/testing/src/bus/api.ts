/**
 * The API the bus-level scenarios run: one event (`tick`, parameter `i`) and
 * three procedures, under a name unique to one scenario. The worker fixture
 * serves it under `lightbus run`; a test's own buses register it to fire.
 */
import { Api, Event, MessageRejectedError } from '@lightbus/core';

/** What a scenario's handlers and procedures print or record. */
export interface TierApiHooks {
  /** Called with lines such as `slow started` and `slow done`. */
  readonly log?: (line: string) => void;
}

export type TierApi = Api & {
  readonly tick: Event;
  echo(params: { text: string }): Promise<string>;
  slow(params: { ms: number }): Promise<number>;
};

/** The scenario API class for `apiName`. */
export function tierApiClass(apiName: string, hooks: TierApiHooks = {}): new () => TierApi {
  return class ScenarioApi extends Api {
    static override meta = { name: apiName };
    tick = new Event({ parameters: ['i'] });

    async echo({ text }: { text: string }): Promise<string> {
      return text;
    }

    async slow({ ms }: { ms: number }): Promise<number> {
      hooks.log?.('slow started');
      await new Promise((resolve) => setTimeout(resolve, ms));
      hooks.log?.('slow done');
      return ms;
    }
  };
}

/** Options of the `tick` listener: how long each event takes, and which ones it rejects as poison. */
export interface TickHandlerOptions {
  readonly handlerMs?: number;
  readonly reject?: ReadonlySet<number>;
  readonly log?: (line: string) => void;
}

/**
 * The scenarios' `tick` handler: logs `started <i>`, works `handlerMs`, logs `handled <i>`;
 * an `i` in `reject` is refused with MessageRejectedError (a poison message).
 */
export function tickHandler(options: TickHandlerOptions): (params: Record<string, unknown>) => Promise<void> {
  return async (params) => {
    const i = Number(params.i);
    options.log?.(`started ${i}`);
    if (options.reject?.has(i)) throw new MessageRejectedError(`tier: poison ${i}`);
    if (options.handlerMs) await new Promise((resolve) => setTimeout(resolve, options.handlerMs));
    options.log?.(`handled ${i}`);
  };
}
