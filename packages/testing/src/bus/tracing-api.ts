/** The tracing scenario's API: `place` fires `placed` through the bus it is registered on. */
import { Api, Event } from '@lightbus/core';

export function tracedApiClass(apiName: string, fire: (params: { order: number }) => Promise<void>): new () => Api {
  return class TracedApi extends Api {
    static override meta = { name: apiName };
    placed = new Event({ parameters: ['order'] });

    async place({ order }: { order: number }): Promise<number> {
      await fire({ order });
      return order;
    }
  };
}
