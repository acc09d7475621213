import { describe, expect, it } from 'vitest';
import { createMetadataOnlyScope } from '../../../src/host/mirror/forwarding/metadata-only.ts';

const CONFIG = `sha256:${'c'.repeat(64)}`;
const LAYER = `sha256:${'1'.repeat(64)}`;
const manifest = Buffer.from(
  JSON.stringify({ schemaVersion: 2, config: { digest: CONFIG }, layers: [{ digest: LAYER }] }),
);

describe('the --metadata-only read scope', () => {
  it('serves a config blob after a manifest named it, for that repository, for 15 minutes; never a layer', () => {
    let now = 0;
    const scope = createMetadataOnlyScope(() => now);
    expect(() => scope.checkBlob('python', CONFIG)).toThrow(/--metadata-only/);
    scope.remember('python', manifest);
    expect(() => scope.checkBlob('python', CONFIG)).not.toThrow();
    expect(() => scope.checkBlob('python', LAYER)).toThrow(/not layer blobs/);
    expect(() => scope.checkBlob('other', CONFIG)).toThrow();
    now += 15 * 60_000;
    expect(() => scope.checkBlob('python', CONFIG)).toThrow();
  });

  it('learns nothing from a manifest list or a body that is not a manifest', () => {
    const scope = createMetadataOnlyScope();
    scope.remember('debian', Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [{ digest: CONFIG }] })));
    scope.remember('debian', Buffer.from('not json'));
    expect(() => scope.checkBlob('debian', CONFIG)).toThrow();
  });

  it('keeps at most 10 000 configs, dropping the oldest', () => {
    const scope = createMetadataOnlyScope();
    const digest = (i: number) => `sha256:${i.toString(16).padStart(64, '0')}`;
    for (let i = 0; i <= 10_000; i++)
      scope.remember('r', Buffer.from(JSON.stringify({ config: { digest: digest(i) } })));
    expect(() => scope.checkBlob('r', digest(0))).toThrow();
    expect(() => scope.checkBlob('r', digest(10_000))).not.toThrow();
    expect(() => scope.checkBlob('r', digest(1))).not.toThrow();
  });
});
