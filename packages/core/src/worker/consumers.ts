/**
 * Starting consumers so that close() leaves none running: a consumer created
 * after closing began (or after its listener stopped) is stopped at once, and
 * close() waits for those still being created.
 */
import type { BusContext } from '../runtime/context';
import type { Consumer } from '../transport/interfaces';
import { InFlight, errorText } from '../util/async';

export class ConsumerStarts {
  private readonly startups = new InFlight();

  constructor(private readonly bus: BusContext) {}

  /**
   * Create a consumer and keep it, unless the bus began closing (or it is no
   * longer wanted) meanwhile. Holds no user code, so close() waiting on it
   * cannot wait on close() in turn. Resolves with whether it was kept.
   */
  open(
    create: () => Promise<Consumer>,
    keep: (consumer: Consumer) => void,
    stillWanted = (): boolean => true,
  ): Promise<boolean> {
    const { lifecycle, logger } = this.bus;
    return this.startups.track(
      (async () => {
        let consumer: Consumer;
        try {
          consumer = await create();
        } catch (error) {
          // Cut short by close() (closingSignal): not a failure of the listener or worker.
          if (lifecycle.isClosing) {
            logger.debug('A consumer still starting was stopped by close()', { error: errorText(error) });
            return false;
          }
          throw error;
        }
        if (lifecycle.isClosing || !stillWanted()) {
          await consumer.stop();
          return false;
        }
        keep(consumer);
        return true;
      })(),
    );
  }

  /** Resolves once no consumer is being created. */
  drain(): Promise<void> {
    return this.startups.drain();
  }
}
