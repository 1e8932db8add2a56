/** Load now and every `ms` while the page is shown. */
import { useEffect, useState } from 'preact/hooks';

export function usePoll<T>(load: () => Promise<T>, ms: number, deps: unknown[] = []): { data?: T; error?: string } {
  const [state, setState] = useState<{ data?: T; error?: string }>({});
  useEffect(() => {
    let live = true;
    const tick = (): void => {
      load().then(
        (data) => live && setState({ data }),
        (error: unknown) =>
          live && setState((s) => ({ ...s, error: error instanceof Error ? error.message : String(error) })),
      );
    };
    tick();
    const timer = setInterval(tick, ms);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, deps);
  return state;
}
