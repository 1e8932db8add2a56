/** Firing events: only from the registering process, declared events and parameters. */
import { InvalidParametersError } from '..';
import { ApiNotRegisteredError, UnknownEventError } from '../errors';
import { busFactory, pairOn } from '../test-helpers';

const buses = busFactory();
afterEach(() => buses.closeAll());
const pair = pairOn(buses);

describe('firing events', () => {
  it('fires only from the process that registered the API', async () => {
    const { client } = await pair();
    await expect(client.support.case.caseCreated.fire({ id: 1, sender: 'Joe' })).rejects.toThrow(ApiNotRegisteredError);
    await expect(client.support.case.caseCreated.fire({ id: 1, sender: 'Joe' })).rejects.toThrow(/registerApi/);
  });

  it('refuses an unknown event, listing the events', async () => {
    const { worker } = await pair();
    await expect(worker.support.case.caseOpened.fire({ id: 1 })).rejects.toThrow(UnknownEventError);
    await expect(worker.support.case.caseOpened.fire({ id: 1 })).rejects.toThrow(/Its events: caseCreated, caseClosed/);
  });

  it('names missing and unknown parameters', async () => {
    const { worker } = await pair();
    const fire = (params: Record<string, unknown>) => worker.support.case.caseCreated.fire(params);
    await expect(fire({ id: 1 })).rejects.toThrow(/missing parameter 'sender'/);
    await expect(fire({ id: 1, sender: 'a', extra: 1, more: 2 })).rejects.toThrow(/unknown parameters 'extra', 'more'/);
    await expect(fire({})).rejects.toThrow(/missing parameters 'id', 'sender'/);
    await expect(worker.client.fireEvent('support.case', 'caseCreated', 'x')).rejects.toThrow(InvalidParametersError);
  });
});
