import { describe, expect, it } from 'vitest';
import { parseMirrorOptions } from '../../../src/host/mirror/mirror-options.ts';
import { parseListenAddress } from '../../../src/host/mirror/server/listen-address.ts';
import { activatedSocketFd } from '../../../src/host/mirror/server/socket-activation.ts';
import { createMirrorMetrics } from '../../../src/host/mirror/server/mirror-metrics.ts';
import { DEFAULT_MIRROR_LISTEN } from '../../../src/host/mirror/server/default-listen.ts';
import { logfmt } from '../../../src/host/mirror/server/mirror-server.ts';

describe('mirror options', () => {
  it('defaults: the documented port on loopback, library keep, no idle exit chosen', () => {
    expect(DEFAULT_MIRROR_LISTEN).toBe('127.0.0.1:8484');
    expect(parseMirrorOptions([])).toEqual({
      help: false,
      listen: '127.0.0.1:8484',
      listenGiven: false,
      upstreams: [],
      library: 'keep',
      upstreamRealms: [],
      allowUids: [],
      allowGids: [],
      maxConnectionsPerUid: 64,
      metadataOnly: false,
      allowNonLoopback: false,
    });
  });

  it('every flag, repeatable ones repeated, --flag=value too', () => {
    expect(
      parseMirrorOptions([
        '--listen=[::1]:9000',
        '--upstream',
        'https://a.example',
        '--upstream=https://b.example/p',
        '--library',
        'both',
        '--upstream-realm',
        'auth.a.example',
        '--allow-uid',
        '1000',
        '--allow-uid',
        '1001',
        '--allow-gid',
        '2000',
        '--max-connections-per-uid',
        '8',
        '--idle-exit',
        '90s',
        '--allow-non-loopback',
      ]),
    ).toEqual({
      help: false,
      listen: '[::1]:9000',
      listenGiven: true,
      upstreams: ['https://a.example', 'https://b.example/p'],
      library: 'both',
      upstreamRealms: ['auth.a.example'],
      allowUids: [1000, 1001],
      allowGids: [2000],
      maxConnectionsPerUid: 8,
      metadataOnly: false,
      idleExitMs: 90_000,
      allowNonLoopback: true,
    });
    expect(parseMirrorOptions(['--idle-exit', '0']).idleExitMs).toBe(0);
    expect(parseMirrorOptions(['--idle-exit', 'never']).idleExitMs).toBe(0);
  });

  it.each([
    [['--library', 'drop'], /--library drop: use keep, strip or both/],
    [['--allow-uid', 'root'], /--allow-uid root is not a numeric id/],
    [['--allow-gid=-1'], /--allow-gid -1 is not a numeric id/],
    [['--max-connections-per-uid', '0'], /--max-connections-per-uid 0: give a whole number from 1/],
    [['--idle-exit', 'soon'], /--idle-exit: "soon" is not a duration/],
    [['--listen'], /see docker-credential-dstack mirror --help/],
    [['--port', '1'], /Unknown option '--port'.*see docker-credential-dstack mirror --help/],
    [['extra'], /see docker-credential-dstack mirror --help/],
  ])('refuses %j with one line saying what to do', (argv, message) => {
    expect(() => parseMirrorOptions(argv)).toThrow(message);
  });
});

describe('listen address', () => {
  it('IPv4, bracketed IPv6, localhost; loopback or not', () => {
    expect(parseListenAddress('127.0.0.1:8484')).toEqual({ host: '127.0.0.1', port: 8484, loopback: true });
    expect(parseListenAddress('[::1]:0')).toEqual({ host: '::1', port: 0, loopback: true });
    expect(parseListenAddress('localhost:80')).toEqual({ host: '127.0.0.1', port: 80, loopback: true });
    expect(parseListenAddress('0.0.0.0:8484')).toEqual({ host: '0.0.0.0', port: 8484, loopback: false });
    expect(parseListenAddress('10.0.0.5:8484').loopback).toBe(false);
  });

  it.each(['8484', '127.0.0.1', 'mirror.example:8484', '127.0.0.1:70000', '::1:8484', '[::1]'])(
    'refuses %s',
    (text) => {
      expect(() => parseListenAddress(text)).toThrow(/^--listen /);
    },
  );
});

describe('socket activation', () => {
  it('only when LISTEN_PID is this process and LISTEN_FDS names at least one socket', () => {
    expect(activatedSocketFd({ LISTEN_FDS: '1', LISTEN_PID: '42' }, 42)).toBe(3);
    expect(activatedSocketFd({ LISTEN_FDS: '2', LISTEN_PID: '42' }, 42)).toBe(3);
    expect(activatedSocketFd({ LISTEN_FDS: '1', LISTEN_PID: '41' }, 42)).toBeUndefined();
    expect(activatedSocketFd({ LISTEN_FDS: '1' }, 42)).toBeUndefined();
    expect(activatedSocketFd({ LISTEN_FDS: '0', LISTEN_PID: '42' }, 42)).toBeUndefined();
    expect(activatedSocketFd({}, 42)).toBeUndefined();
  });
});

describe('metrics text and log lines', () => {
  it('renders counters in the Prometheus text format, with zero lines for unlabelled ones', () => {
    const metrics = createMirrorMetrics();
    metrics.increment('dstack_mirror_requests_total', { kind: 'blob', status: '200' });
    metrics.increment('dstack_mirror_requests_total', { status: '200', kind: 'blob' });
    metrics.increment('dstack_mirror_response_bytes_total', { kind: 'blob' }, 1024);
    const text = metrics.render();
    expect(text).toContain(
      '# TYPE dstack_mirror_requests_total counter\ndstack_mirror_requests_total{kind="blob",status="200"} 2\n',
    );
    expect(text).toContain('dstack_mirror_response_bytes_total{kind="blob"} 1024\n');
    expect(text).toContain('dstack_mirror_refused_peers_total 0\n');
    expect(text).not.toMatch(/^dstack_mirror_upstream_errors_total /m);
  });

  it('logfmt quotes what needs it and leaves out what is unset', () => {
    expect(
      logfmt({ method: 'GET', ref: undefined, error: 'not "found" here', status: 404, aborted: true, empty: '' }),
    ).toBe('method=GET error="not \\"found\\" here" status=404 aborted=true');
  });
});
