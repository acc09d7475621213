import { describe, expect, it } from 'vitest';
import { parseLocalName } from '../../../src/host/setup/local-name.ts';

describe('parseLocalName: the loopback name of local-name mode', () => {
  it.each([
    ['127.0.0.1:8484', '127.0.0.1:8484'],
    [' LOCALHOST:8484 ', 'localhost:8484'],
    ['127.1.2.3:5000', '127.1.2.3:5000'],
  ])('takes %j as %j', (input, name) => {
    expect(parseLocalName(input)).toBe(name);
  });

  it.each([
    ['http://127.0.0.1:8484', /no scheme/],
    ['127.0.0.1', /HOST:PORT/],
    ['127.0.0.1:8484/v2', /HOST:PORT/],
    ['[::1]:8484', /HOST:PORT/],
    ['10.0.0.1:8484', /127\.0\.0\.0\/8 or localhost/],
    ['registry.example:8484', /127\.0\.0\.0\/8 or localhost/],
    ['127.0.0.1:443', /not port 443/],
    ['127.0.0.1:70000', /1-65535/],
  ])('refuses %j in one line naming the rule', (input, why) => {
    expect(() => parseLocalName(input)).toThrow(why);
    expect(() => parseLocalName(input)).toThrow(/^--local-name "/);
  });
});
