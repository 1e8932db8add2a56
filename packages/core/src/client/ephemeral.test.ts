/** listen(..., { ephemeral: true }): the group goes with its last consumer (memory transport). */
import { Api, Event, InvalidParametersError } from '..';
import { waitFor } from '@lightbus/testing';
import { busFactory, memoryConfig } from '../test-helpers';

const buses = busFactory();
afterEach(() => buses.closeAll());

class ShopApi extends Api {
  static override meta = { name: 'ephemeral.shop' };
  sold = new Event({ parameters: ['n'] });
}

it.each([
  [true, [1, 3]],
  [false, [1, 2, 3]],
])(
  'ephemeral %s: events fired while the listener is stopped reach it on its return: %j',
  async (ephemeral, expected) => {
    const config = memoryConfig();
    const seen: number[] = [];
    const firer = buses.make({ config });
    firer.client.registerApi(new ShopApi());
    const listening = async () => {
      const bus = buses.make({ config });
      const listener = bus.client.listen(['ephemeral.shop', 'sold'], ({ n }) => void seen.push(n as number), {
        listenerName: 'tail',
        ephemeral,
      });
      await bus.client.start();
      await listener.ready;
      return listener;
    };
    const first = await listening();
    await firer.client.fireEvent('ephemeral.shop', 'sold', { n: 1 });
    await waitFor(() => seen.length === 1, { timeout: 3000, message: 'the first event handled' });
    await first.stop();
    await firer.client.fireEvent('ephemeral.shop', 'sold', { n: 2 });
    await listening();
    await firer.client.fireEvent('ephemeral.shop', 'sold', { n: 3 });
    await waitFor(() => seen.includes(3), { timeout: 3000, message: 'the third event handled' });
    expect(seen).toEqual(expected);
  },
);

it('refuses an ephemeral option that is not a boolean', () => {
  const bus = buses.make({ config: memoryConfig() });
  const listen = () =>
    bus.client.listen(['ephemeral.shop', 'sold'], () => undefined, {
      listenerName: 'x',
      ephemeral: 'yes' as unknown as boolean,
    });
  expect(listen).toThrow(InvalidParametersError);
  expect(listen).toThrow('listen() option ephemeral must be true or false (got');
});
