import { describe, expect, it } from 'vitest';
import { hostOf, isLoopbackHost } from '../../src/registry/loopback.ts';

// One rule for both halves: the helper's server URL and the service's listen address agree.
describe('isLoopbackHost', () => {
  it.each([
    'localhost',
    'LOCALHOST',
    '127.0.0.1',
    '127.1.2.3',
    '::1',
    '[::1]',
    '0:0:0:0:0:0:0:1',
    '::ffff:127.0.0.1',
    '[::ffff:7f00:1]',
  ])('%s is loopback', (host) => {
    expect(isLoopbackHost(host)).toBe(true);
  });
  // *.localhost resolves through the resolver, which /etc/hosts can point anywhere.
  it.each([
    'a.localhost',
    '10.0.0.1',
    'localhost.example',
    '128.0.0.1',
    'dstack.example',
    '::2',
    '::ffff:10.0.0.1',
    '[::ffff:a00:1]',
    '0.0.0.0',
    '::',
  ])('%s is not loopback', (host) => {
    expect(isLoopbackHost(host)).toBe(false);
  });
  it('agrees with the URL parser on every spelling of IPv4-mapped loopback', () => {
    expect(isLoopbackHost(new URL('http://[::ffff:127.0.0.1]/').hostname)).toBe(true);
    expect(isLoopbackHost(new URL('http://[::ffff:127.255.0.9]/').hostname)).toBe(true);
  });
});

describe('hostOf', () => {
  it('drops the port and keeps IPv6 brackets', () => {
    expect(hostOf('127.0.0.1:8480')).toBe('127.0.0.1');
    expect(hostOf('[::1]:8480')).toBe('[::1]');
    expect(hostOf('registry.example')).toBe('registry.example');
  });
});
