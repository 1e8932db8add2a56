import { InvalidApiError, InvalidNameError } from '../errors';
import { Api, describeApi } from './api';
import { Event } from './event';

class SupportCaseApi extends Api {
  static override meta = { name: 'support.case', version: 2 };
  caseCreated = new Event({ parameters: ['id', 'sender'] });
  get({ id }: { id: number }) {
    return { id };
  }
  async close({ id }: { id: number }) {
    return id;
  }
  _helper() {
    return 'not a procedure';
  }
  // eslint-disable-next-line no-unused-private-class-members -- the point: a private member is not a procedure
  #secret() {
    return 'not a procedure either';
  }
}

describe('describeApi', () => {
  it('finds procedures (public methods), events and meta', () => {
    const api = describeApi(new SupportCaseApi());
    expect(api.name).toBe('support.case');
    expect(api.version).toBe(2);
    expect(api.internal).toBe(false);
    expect([...api.procedures.keys()].sort()).toEqual(['close', 'get']);
    expect([...api.events.keys()]).toEqual(['caseCreated']);
    expect(api.events.get('caseCreated')!.parameterNames).toEqual(['id', 'sender']);
  });

  it('includes inherited methods and lets subclasses override them', async () => {
    class Base extends Api {
      static override meta = { name: 'base' };
      hello() {
        return 'base';
      }
      shared() {
        return 'base';
      }
    }
    class Child extends Base {
      static override meta = { name: 'child' };
      override shared() {
        return 'child';
      }
    }
    const api = describeApi(new Child());
    expect([...api.procedures.keys()].sort()).toEqual(['hello', 'shared']);
    expect(await api.procedures.get('shared')!.invoke({})).toBe('child');
  });

  it('binds procedures to the instance', async () => {
    class Counter extends Api {
      static override meta = { name: 'counter' };
      private count = 41;
      next() {
        this.count += 1;
        return this.count;
      }
    }
    const api = describeApi(new Counter());
    expect(await api.procedures.get('next')!.invoke({})).toBe(42);
  });

  it.each([
    ['', /non-empty/],
    ['default', /reserved/],
    ['default.things', /reserved/],
    ['_private.api', /may not start with '_'/],
    ['support._case', /may not start with '_'/],
    ['support..case', /each dot-separated part/],
    ['support case', /each dot-separated part/],
    ['orders:v1', /each dot-separated part/],
  ])('refuses the API name %j', (name, message) => {
    class Bad extends Api {
      static override meta = { name };
    }
    expect(() => describeApi(new Bad())).toThrow(InvalidNameError);
    expect(() => describeApi(new Bad())).toThrow(message);
  });

  it('refuses a class without meta, naming the fix', () => {
    class NoMeta extends Api {}
    expect(() => describeApi(new NoMeta())).toThrow(/NoMeta has no meta\. Add static meta/);
  });

  it('refuses a class instead of an instance, and a non-Api object', () => {
    expect(() => describeApi(SupportCaseApi)).toThrow(/Pass an instance/);
    expect(() => describeApi({ get() {} })).toThrow(InvalidApiError);
  });

  it('refuses a bad version', () => {
    class Versioned extends Api {
      static override meta = { name: 'versioned', version: 0 };
    }
    expect(() => describeApi(new Versioned())).toThrow(/meta.version must be a positive integer/);
  });

  it.each(['fire', 'listen', 'then'])('refuses the reserved procedure name %s', (name) => {
    const proto = { [name]() {} };
    class Reserved extends Api {
      static override meta = { name: 'reserved' };
    }
    Object.defineProperty(Reserved.prototype, name, { value: proto[name], enumerable: false });
    expect(() => describeApi(new Reserved())).toThrow(new RegExp(`'${name}' on API 'reserved' is reserved`));
  });

  it('refuses a reserved event name and a bad parameter name', () => {
    class BadEvent extends Api {
      static override meta = { name: 'bad.event' };
      listen = new Event({ parameters: ['a'] });
    }
    expect(() => describeApi(new BadEvent())).toThrow(/Event name 'listen'.*reserved/);
    class BadParameter extends Api {
      static override meta = { name: 'bad.param' };
      happened = new Event({ parameters: ['ok', '_hidden'] });
    }
    expect(() => describeApi(new BadParameter())).toThrow(/Parameter name '_hidden'/);
  });

  it('refuses an event parameter declared twice', () => {
    expect(() => new Event({ parameters: ['id', 'id'] })).toThrow(/declared twice/);
  });
});
