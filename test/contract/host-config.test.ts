import { describe, expect, it } from 'vitest';
import { parseHostConfigAnswer } from '../../src/contract/host-config.ts';
import { isLibraryMode, LIBRARY_MODES } from '../../src/contract/library-mode.ts';

describe('the host-config answer (src/contract/host-config.ts)', () => {
  it('reads the answer the service sends', () => {
    const answer = {
      mirrors: ['https://m.example'],
      registries: ['m.example'],
      endpoint: { enabled: true, upstreams: [{ url: 'https://m.example', registry: 'm.example', library: 'both' }] },
    };
    expect(parseHostConfigAnswer(answer)).toEqual({ ok: true, answer });
  });

  it('no endpoint block: disabled with no upstreams; an upstream without library keeps it', () => {
    expect(parseHostConfigAnswer({ mirrors: [], registries: [] })).toEqual({
      ok: true,
      answer: { mirrors: [], registries: [], endpoint: { enabled: false, upstreams: [] } },
    });
    const parsed = parseHostConfigAnswer({
      mirrors: [],
      registries: [],
      endpoint: { upstreams: [{ url: 'https://x', registry: 'x' }] },
    });
    expect(parsed).toEqual({
      ok: true,
      answer: {
        mirrors: [],
        registries: [],
        endpoint: { enabled: false, upstreams: [{ url: 'https://x', registry: 'x', library: 'keep' }] },
      },
    });
  });

  it.each([
    [[], /not a JSON object/],
    [{ mirrors: 'x', registries: [] }, /"mirrors" and "registries" lists of strings/],
    [{ mirrors: [], registries: [1] }, /"mirrors" and "registries" lists of strings/],
    [{ mirrors: [], registries: [], endpoint: [] }, /"endpoint": not an object/],
    [{ mirrors: [], registries: [], endpoint: { enabled: 'yes' } }, /"enabled" is not a boolean/],
    [
      { mirrors: [], registries: [], endpoint: { upstreams: [{ url: 'https://x', registry: 'x', library: 'drop' }] } },
      /not keep, strip or both/,
    ],
  ])('refuses %j', (value, why) => {
    const parsed = parseHostConfigAnswer(value);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.why).toMatch(why);
  });

  it('library modes', () => {
    expect(LIBRARY_MODES).toEqual(['keep', 'strip', 'both']);
    expect(LIBRARY_MODES.every(isLibraryMode)).toBe(true);
    expect([undefined, 'drop', 1].some(isLibraryMode)).toBe(false);
  });
});
