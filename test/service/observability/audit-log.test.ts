import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createAuditLog } from '../../../src/service/observability/audit-log.ts';
import type { AuditEvent } from '../../../src/service/core/ports.ts';
import { Secret } from '../../../src/common/secret.ts';
import { useTempDirs } from '../../helpers/temp-dirs.ts';

const tempDir = useTempDirs('audit-');
const clock = () => new Date('2026-11-26T21:00:00.000Z');

describe('audit log', () => {
  it('appends one JSON line per event to a 0600 file, fields in order, time from the clock', async () => {
    const dir = await tempDir();
    const path = join(dir, 'logs', 'audit.jsonl');
    const audit = createAuditLog({ path, clock });
    audit.record({
      event: 'credential',
      outcome: 'granted',
      instance: 'i-1',
      project: 'main',
      registry: 'docker.example',
      source: 'static',
    });
    audit.record({
      event: 'realm',
      outcome: 'denied',
      reason: 'forbidden',
      scope: 'repository:library/python:pull',
      service: 'reg',
    });
    audit.close();
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const lines = (await readFile(path, 'utf8')).split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe('');
    expect(lines[0]).toBe(
      '{"time":"2026-11-26T21:00:00.000Z","event":"credential","outcome":"granted","instance":"i-1","project":"main","registry":"docker.example","source":"static"}',
    );
    expect(JSON.parse(lines[1]!)).toEqual({
      time: '2026-11-26T21:00:00.000Z',
      event: 'realm',
      outcome: 'denied',
      reason: 'forbidden',
      scope: 'repository:library/python:pull',
      service: 'reg',
    });
  });

  it('appends to an existing log rather than replacing it', async () => {
    const dir = await tempDir();
    const path = join(dir, 'audit.jsonl');
    await writeFile(path, '{"old":true}\n', { mode: 0o600 });
    const audit = createAuditLog({ path, clock });
    audit.record({ event: 'revoked', outcome: 'granted', instance: 'i-9' });
    audit.close();
    const lines = (await readFile(path, 'utf8')).trim().split('\n');
    expect(lines).toEqual([
      '{"old":true}',
      '{"time":"2026-11-26T21:00:00.000Z","event":"revoked","outcome":"granted","instance":"i-9"}',
    ]);
  });

  it('never writes a Secret or a field outside the schema, and keeps every event on one line', async () => {
    const stream = new PassThrough();
    let out = '';
    stream.on('data', (chunk) => (out += chunk));
    const audit = createAuditLog({ stream, clock });
    const secret = new Secret('hunter2-very-secret');
    audit.record({
      event: 'credential',
      outcome: 'error',
      reason: secret as unknown as string,
      password: 'hunter2-very-secret',
      secret,
    } as unknown as AuditEvent);
    audit.record({ event: 'realm', outcome: 'denied', scope: 'a\nb"c' });
    expect(out).not.toContain('hunter2');
    const lines = out.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(JSON.parse(lines[0]!)).toEqual({
      time: '2026-11-26T21:00:00.000Z',
      event: 'credential',
      outcome: 'error',
      reason: '[redacted]',
    });
    expect(JSON.parse(lines[1]!).scope).toBe('a\nb"c');
  });

  it('caps very long values', () => {
    const stream = new PassThrough();
    let out = '';
    stream.on('data', (chunk) => (out += chunk));
    createAuditLog({ stream, clock }).record({ event: 'realm', outcome: 'denied', service: 'x'.repeat(10_000) });
    expect(JSON.parse(out).service).toHaveLength(513);
  });

  it('an unwritable audit log path is a coded error naming it', async () => {
    // A path below a regular file fails even for root (who ignores directory permissions).
    const blocker = join(await tempDir(), 'file');
    await writeFile(blocker, '');
    expect(() => createAuditLog({ path: join(blocker, 'audit.jsonl'), clock })).toThrow(
      expect.objectContaining({ code: 'audit_log_unavailable', message: expect.stringContaining(blocker) }),
    );
  });

  it('a path under /proc fails at once instead of spinning in recursive mkdir', () => {
    const started = Date.now();
    expect(() => createAuditLog({ path: '/proc/nope/deeper/audit.jsonl', clock })).toThrow(
      expect.objectContaining({ code: 'audit_log_unavailable' }),
    );
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('without a path or stream it records nothing and does not fail', () => {
    expect(() => createAuditLog({ clock }).record({ event: 'credential', outcome: 'granted' })).not.toThrow();
  });
});
