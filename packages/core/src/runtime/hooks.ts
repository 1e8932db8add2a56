/** Hooks: user callbacks at fixed points of the client's work, run in registration order and awaited. */
import type { EventMessage, ResultMessage, RpcMessage } from '../message';

export interface HookPayloads {
  /** The bus started (worker or bus.start()), before consuming. */
  onStart: Record<string, never>;
  /** The bus is stopping, after consumers stopped and before connections close. */
  onStop: Record<string, never>;
  beforeRpcCall: { readonly message: RpcMessage };
  afterRpcCall: { readonly message: RpcMessage; readonly result: ResultMessage };
  beforeRpcExecution: { readonly message: RpcMessage };
  afterRpcExecution: { readonly message: RpcMessage; readonly result: ResultMessage };
  beforeEventSent: { readonly message: EventMessage };
  afterEventSent: { readonly message: EventMessage };
  beforeEventExecution: { readonly message: EventMessage; readonly listenerName: string };
  afterEventExecution: { readonly message: EventMessage; readonly listenerName: string; readonly error?: unknown };
}

export type HookName = keyof HookPayloads;
export type HookCallback<N extends HookName> = (payload: HookPayloads[N]) => unknown;

export class HookRegistry {
  private readonly callbacks: { [N in HookName]?: Array<HookCallback<N>> } = {};

  /** Add a callback; returns a function that removes it. */
  on<N extends HookName>(name: N, callback: HookCallback<N>): () => void {
    const list = (this.callbacks[name] ??= []) as Array<HookCallback<N>>;
    list.push(callback);
    return () => {
      const index = list.indexOf(callback);
      if (index >= 0) list.splice(index, 1);
    };
  }

  /** True when somebody listens: callers skip building payloads otherwise. */
  has(name: HookName): boolean {
    return (this.callbacks[name]?.length ?? 0) > 0;
  }

  async run<N extends HookName>(name: N, payload: HookPayloads[N]): Promise<void> {
    const list = this.callbacks[name] as Array<HookCallback<N>> | undefined;
    if (!list) return;
    for (const callback of [...list]) await callback(payload);
  }
}
