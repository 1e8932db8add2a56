import { describe, expect, it } from '@jest/globals';
import { redactUrl } from './url';

describe('redactUrl', () => {
  it('hides the password of Redis urls', () => {
    expect(redactUrl('redis://:s3cret@host:6379/0')).toBe('redis://:***@host:6379/0');
    expect(redactUrl('rediss://user:s3cret@host/1')).toBe('rediss://user:***@host/1');
    expect(redactUrl('redis://127.0.0.1:6379/0')).toBe('redis://127.0.0.1:6379/0');
  });

  it('hides the password of AMQP urls', () => {
    expect(redactUrl('amqp://user:s3cret@rabbit:5672/vh')).toBe('amqp://user:***@rabbit:5672/vh');
    expect(redactUrl('amqps://rabbit/')).toBe('amqps://rabbit/');
  });
});
