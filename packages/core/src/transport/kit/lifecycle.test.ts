import { BusClosedError } from '../../errors';
import { RoleLifecycle } from './lifecycle';

const closedError = (what: string, cause?: unknown) =>
  new BusClosedError(`${what}: the test transport is closed.`, cause === undefined ? undefined : { cause });

describe('RoleLifecycle', () => {
  it('closes once, however often close() is called, stopping consumers before releasing', async () => {
    const life = new RoleLifecycle(closedError);
    const order: string[] = [];
    await life.startConsumer(
      { start: async () => undefined, stop: async () => void order.push('consumer stopped') },
      'listen',
    );
    const release = jest.fn(async () => void order.push('released'));
    const first = life.close(release);
    const second = life.close(release);
    expect(life.isClosed).toBe(true);
    await Promise.all([first, second]);
    expect(first).toBe(second);
    expect(release).toHaveBeenCalledTimes(1);
    expect(order).toEqual(['consumer stopped', 'released']);
  });

  it('refuses new work once closed, naming what was asked', async () => {
    const life = new RoleLifecycle(closedError);
    await life.close();
    expect(() => life.assertOpen('firing svc.tick')).toThrow('firing svc.tick: the test transport is closed.');
    await expect(life.unlessClosed('reading history', async () => 1)).rejects.toBeInstanceOf(BusClosedError);
  });

  it('reports work that fails because close() began meanwhile as closed, with the failure as cause', async () => {
    const life = new RoleLifecycle(closedError);
    const failure = new Error('connection closed');
    const work = life.unlessClosed('loading schemas', async () => {
      await life.close();
      throw failure;
    });
    await expect(work).rejects.toMatchObject({ name: 'BusClosedError', cause: failure });
  });

  it('stops a consumer that is still starting when the role closes', async () => {
    const life = new RoleLifecycle(closedError);
    let stopped = false;
    let finishStart!: () => void;
    const starting = life.startConsumer(
      {
        start: () => new Promise<void>((resolve) => (finishStart = resolve)),
        stop: async () => void ((stopped = true), finishStart()),
      },
      'listen',
    );
    await life.close();
    await expect(starting).rejects.toBeInstanceOf(BusClosedError);
    expect(stopped).toBe(true);
  });
});
