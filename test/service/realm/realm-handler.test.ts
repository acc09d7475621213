import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { decodeJwt } from 'jose';
import { createRealmHandler, REALM_CHALLENGE, type RealmDeps } from '../../../src/service/realm/realm-handler.ts';
import { createIssuerSource } from '../../../src/service/sources/issuer-source.ts';
import { mintTicket } from '../../../src/service/token/ticket.ts';
import type { RegistryEntry } from '../../../src/service/core/ports.ts';
import {
  issuerRegistry,
  makeKeys,
  memoryAudit,
  memoryMetrics,
  memoryRevocations,
  type Keys,
} from '../../helpers/realm-fixtures.ts';

const SERVICE = 'registry.example:5000';
const now = new Date('2026-11-26T20:00:00.000Z');
let keys: Keys;
let server: Server;
let base: string;
let deps: RealmDeps & {
  audit: ReturnType<typeof memoryAudit>;
  metrics: ReturnType<typeof memoryMetrics>;
  revocations: ReturnType<typeof memoryRevocations>;
};

const registries: RegistryEntry[] = [
  issuerRegistry({
    key: SERVICE,
    projects: ['main', 'team'],
    issuer: { service: SERVICE, repositories: { main: ['library/*', 'main/*'], '*': ['public/*'] } },
  }),
  issuerRegistry({ key: 'open.example', issuer: { service: 'open.example', anonymousPull: true } }),
  {
    key: 'static.example',
    source: 'static',
    projects: ['*'],
    aliases: [],
    static: { username: 'u', password: undefined as never, ttlSeconds: 60 },
  },
];

beforeAll(async () => {
  keys = await makeKeys();
  deps = {
    registries,
    ticketKeys: keys.ticketKeys,
    registryKeys: keys.registryKeys,
    revocations: memoryRevocations(),
    audit: memoryAudit(),
    metrics: memoryMetrics(),
    clock: () => now,
    issuerName: 'dstack-registry-auth',
  };
  const handler = createRealmHandler(deps);
  server = createServer((req, res) => void handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/token`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await keys.cleanup();
});

async function ticketFor(instance = 'i-1', project = 'main', service = SERVICE, at = now): Promise<string> {
  return (
    await mintTicket(
      keys.ticketKeys,
      { instance, project, service, ttlSeconds: 300, issuer: 'dstack-registry-auth' },
      at,
    )
  ).token;
}

function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

async function get(query: string, authorization?: string) {
  const res = await fetch(`${base}?${query}`, { headers: authorization ? { authorization } : {} });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

function access(body: Record<string, unknown>) {
  return decodeJwt(body.token as string).access;
}

describe('realm: GET with Basic auth (dockerd)', () => {
  it('grants pull for a valid ticket and answers token, access_token, expires_in >= 60, issued_at', async () => {
    const ticket = await ticketFor();
    const { status, body, headers } = await get(
      `service=${SERVICE}&scope=repository:library/python:pull`,
      basic('instance:i-1', ticket),
    );
    expect(status).toBe(200);
    expect(headers.get('cache-control')).toBe('no-store');
    expect(body.access_token).toBe(body.token);
    expect(body.expires_in).toBeGreaterThanOrEqual(60);
    expect(body.issued_at).toBe('2026-11-26T20:00:00.000Z');
    expect(decodeJwt(body.token as string)).toMatchObject({
      iss: 'dstack-registry-auth',
      sub: 'i-1',
      aud: SERVICE,
      access: [{ type: 'repository', name: 'library/python', actions: ['pull'] }],
    });
    expect(deps.audit.events.at(-1)).toMatchObject({
      event: 'realm',
      outcome: 'granted',
      instance: 'i-1',
      project: 'main',
      service: SERVICE,
      registry: SERVICE,
      scope: 'repository:library/python:pull',
    });
    expect(
      deps.metrics.counters.get('dstack_registry_auth_realm_requests_total{outcome="granted",reason="pull"}'),
    ).toBeGreaterThanOrEqual(1);
    expect(
      deps.metrics.observations.some((o) => o.name === 'dstack_registry_auth_realm_request_duration_seconds'),
    ).toBe(true);
  });

  it('grants only pull: push is dropped, push-only, delete and catalog get nothing, and it is not an error', async () => {
    const auth = basic('instance:i-1', await ticketFor());
    expect(access((await get(`service=${SERVICE}&scope=repository:library/python:push,pull`, auth)).body)).toEqual([
      { type: 'repository', name: 'library/python', actions: ['pull'] },
    ]);
    expect(deps.audit.events.at(-1)).toMatchObject({ outcome: 'granted', reason: 'partial:pull_only' });
    for (const scope of ['repository:library/python:push', 'repository:library/python:delete', 'registry:catalog:*']) {
      const { status, body } = await get(`service=${SERVICE}&scope=${encodeURIComponent(scope)}`, auth);
      expect(status, scope).toBe(200);
      expect(access(body), scope).toEqual([]);
      expect(deps.audit.events.at(-1)).toMatchObject({ outcome: 'denied' });
    }
  });

  it('reads repeated and space-separated scopes, host:port names and classes; ignores junk', async () => {
    const auth = basic('instance:i-1', await ticketFor());
    const query = new URLSearchParams([
      ['service', SERVICE],
      ['scope', 'repository:library/python:pull repository:main/app:pull'],
      ['scope', 'repository(plugin):library/plug:pull'],
      ['scope', 'garbage::: repository:UPPER:pull'],
    ]);
    const { status, body } = await get(query.toString(), auth);
    expect(status).toBe(200);
    expect((access(body) as { name: string }[]).map((a) => a.name)).toEqual([
      'library/python',
      'main/app',
      'library/plug',
    ]);
  });

  it('applies the project patterns: the project entry, else the "*" entry', async () => {
    const main = basic('instance:i-1', await ticketFor('i-1', 'main'));
    expect(access((await get(`service=${SERVICE}&scope=repository:public/x:pull`, main)).body)).toEqual([]);
    const team = basic('instance:i-2', await ticketFor('i-2', 'team'));
    expect(access((await get(`service=${SERVICE}&scope=repository:public/x:pull`, team)).body)).toHaveLength(1);
    expect(access((await get(`service=${SERVICE}&scope=repository:library/python:pull`, team)).body)).toEqual([]);
    expect(deps.audit.events.at(-1)).toMatchObject({ outcome: 'denied', reason: 'repository_not_allowed' });
    const stranger = basic('instance:i-3', await ticketFor('i-3', 'other'));
    expect(access((await get(`service=${SERVICE}&scope=repository:public/x:pull`, stranger)).body)).toEqual([]);
    expect(deps.audit.events.at(-1)).toMatchObject({ outcome: 'denied', reason: 'project_not_allowed' });
  });

  it('gives an anonymous request a token without access, unless the registry allows anonymous pulls', async () => {
    const closed = await get(`service=${SERVICE}&scope=repository:library/python:pull`);
    expect(closed.status).toBe(200);
    expect(decodeJwt(closed.body.token as string)).toMatchObject({ sub: '', access: [] });
    expect(deps.audit.events.at(-1)).toMatchObject({ outcome: 'denied', reason: 'anonymous' });
    const open = await get(
      'service=open.example&scope=repository:library/python:pull%20repository:library/python:push',
    );
    expect(access(open.body)).toEqual([{ type: 'repository', name: 'library/python', actions: ['pull'] }]);
  });

  it('answers 401 with the Basic challenge for bad, expired, revoked, wrong-service tickets and a wrong user name', async () => {
    const cases: [string, string, string][] = [
      ['garbage', basic('instance:i-1', 'not-a-ticket'), 'ticket_invalid'],
      [
        'expired',
        basic('instance:i-1', await ticketFor('i-1', 'main', SERVICE, new Date(now.getTime() - 3600e3))),
        'ticket_expired',
      ],
      ['other service', basic('instance:i-1', await ticketFor('i-1', 'main', 'other.example')), 'ticket_wrong_service'],
      ['user name', basic('instance:i-9', await ticketFor()), 'username_mismatch'],
    ];
    await deps.revocations.revoke('i-revoked', now);
    cases.push(['revoked', basic('instance:i-revoked', await ticketFor('i-revoked')), 'ticket_revoked']);
    for (const [name, auth, reason] of cases) {
      const { status, headers, body } = await get(`service=${SERVICE}&scope=repository:library/python:pull`, auth);
      expect(status, name).toBe(401);
      expect(headers.get('www-authenticate'), name).toBe(REALM_CHALLENGE);
      expect(body.error, name).toMatch(/^token_(invalid|expired|revoked)$/);
      expect(deps.audit.events.at(-1), name).toMatchObject({ event: 'realm', outcome: 'denied', reason });
    }
    // A ticket whose signature held names who presented it, so a revoked host shows in the audit.
    const revoked = deps.audit.events.filter((e) => e.reason === 'ticket_revoked').at(-1);
    expect(revoked).toMatchObject({ instance: 'i-revoked', project: 'main' });
    expect(deps.audit.events.filter((e) => e.reason === 'ticket_wrong_service').at(-1)).toMatchObject({
      instance: 'i-1',
    });
  });

  it('tells the person why in the registry error format that docker and containerd print', async () => {
    await deps.revocations.revoke('i-told', now);
    const { status, body } = await get(
      `service=${SERVICE}&scope=repository:library/python:pull`,
      basic('instance:i-told', await ticketFor('i-told')),
    );
    expect(status).toBe(401);
    expect(body).toEqual({
      error: 'token_revoked',
      message: 'pull ticket rejected: instance i-told was revoked',
      errors: [
        {
          code: 'UNAUTHORIZED',
          message:
            'dstack-registry-auth refused the pull ticket: pull ticket rejected: instance i-told was revoked; ask the dstack operator for a new instance token',
          detail: null,
        },
      ],
    });
    const expired = await get(
      `service=${SERVICE}&scope=repository:library/python:pull`,
      basic('instance:i-1', await ticketFor('i-1', 'main', SERVICE, new Date(now.getTime() - 3600e3))),
    );
    expect((expired.body.errors as { message: string }[])[0]!.message).toBe(
      'dstack-registry-auth refused the pull ticket: pull ticket expired; get a new one; run the pull again (the credential helper fetches a new ticket)',
    );
  });

  it.each([
    ['not base64 at all', 'Basic !!!***'],
    ['no colon in the decoded value', `Basic ${Buffer.from('instance-i-1-ticket').toString('base64')}`],
    ['an empty credential', 'Basic '],
    ['another scheme', 'Bearer abc.def.ghi'],
  ])('answers 401, not anonymous, to a malformed Authorization header: %s', async (_, authorization) => {
    const { status, headers, body } = await get(
      `service=open.example&scope=repository:library/python:pull`,
      authorization,
    );
    expect(status).toBe(401);
    expect(headers.get('www-authenticate')).toBe(REALM_CHALLENGE);
    expect(body.error).toBe('token_invalid');
    expect(deps.audit.events.at(-1)).toMatchObject({
      event: 'realm',
      outcome: 'denied',
      reason: 'credential_malformed',
    });
  });

  it('a well-formed Basic credential with an empty password is anonymous, as clients send it', async () => {
    const { status, body } = await get(`service=open.example&scope=repository:library/python:pull`, basic('', ''));
    expect(status).toBe(200);
    expect(access(body)).toEqual([{ type: 'repository', name: 'library/python', actions: ['pull'] }]);
  });

  it('answers 400 for a missing or unknown service (static registries have no realm)', async () => {
    expect((await get('scope=repository:a:pull')).status).toBe(400);
    const unknown = await get('service=nowhere.example&scope=repository:a:pull');
    expect(unknown.status).toBe(400);
    expect(unknown.body.message).toContain('nowhere.example');
    expect((await get('service=static.example&scope=repository:a:pull')).status).toBe(400);
  });
});

describe('realm: POST with the OAuth2 password grant (containerd)', () => {
  async function post(form: Record<string, string>, contentType = 'application/x-www-form-urlencoded') {
    const res = await fetch(base, {
      method: 'POST',
      headers: { 'content-type': contentType },
      body: new URLSearchParams(form).toString(),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  it('grants pull for a valid ticket in the form', async () => {
    const { status, body } = await post({
      grant_type: 'password',
      username: 'instance:i-1',
      password: await ticketFor(),
      service: SERVICE,
      scope: 'repository:library/python:pull',
      client_id: 'containerd-client',
      access_type: 'online',
    });
    expect(status).toBe(200);
    expect(access(body)).toEqual([{ type: 'repository', name: 'library/python', actions: ['pull'] }]);
    expect(body.expires_in).toBeGreaterThanOrEqual(60);
  });

  it('accepts the credential as ctr splits it, at the first colon (username "instance", password "i-1:<ticket>")', async () => {
    const before = deps.audit.events.length;
    const { status, body } = await post({
      grant_type: 'password',
      username: 'instance',
      password: `i-1:${await ticketFor()}`,
      service: SERVICE,
      scope: 'repository:library/python:pull',
    });
    expect(status).toBe(200);
    expect(access(body)).toEqual([{ type: 'repository', name: 'library/python', actions: ['pull'] }]);
    // No "denied ticket_invalid" line before the GET fallback: one line, granted.
    expect(deps.audit.events.slice(before)).toEqual([
      expect.objectContaining({ event: 'realm', outcome: 'granted', instance: 'i-1', reason: 'pull' }),
    ]);
  });

  it('rejects a bad ticket with 401, other grants and bodies with 400 (containerd then falls back to GET)', async () => {
    expect(
      (await post({ grant_type: 'password', username: 'instance:i-1', password: 'x', service: SERVICE })).status,
    ).toBe(401);
    const refresh = await post({ grant_type: 'refresh_token', refresh_token: 'r', service: SERVICE });
    expect(refresh).toMatchObject({ status: 400, body: { error: 'unsupported_grant_type' } });
    expect((await post({ service: SERVICE })).status).toBe(400);
    expect((await post({ grant_type: 'password' }, 'application/json')).status).toBe(400);
  });

  it('refuses other methods with 405', async () => {
    const res = await fetch(base, { method: 'PUT' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, POST');
  });
});

describe('realm audit', () => {
  it('never records a ticket', async () => {
    const ticket = await ticketFor();
    await get(`service=${SERVICE}&scope=repository:library/python:pull`, basic('instance:i-1', ticket));
    await get(`service=${SERVICE}&scope=repository:library/python:pull`, basic('instance:i-9', ticket));
    const text = JSON.stringify(deps.audit.events) + deps.metrics.render();
    expect(text).not.toContain(ticket.split('.')[2]);
    expect(text).not.toContain(ticket.split('.')[1]);
  });
});

describe('issuer source', () => {
  it('issues a pull ticket for the registry service as username instance:<id> and a redacted secret', async () => {
    const source = createIssuerSource({ ticketKeys: keys.ticketKeys, issuerName: 'dstack-registry-auth' });
    expect(source.kind).toBe('issuer');
    const identity = { instance: 'i-7', project: 'main', issuedAt: now, expiresAt: now };
    const issued = await source.issue({
      identity,
      requestedKey: 'https://index.docker.io/v1/',
      registry: registries[0]!,
      now,
    });
    if (issued.kind !== 'basic') throw new Error(`the issuer source answered a ${issued.kind} credential`);
    expect(issued.username).toBe('instance:i-7');
    expect(String(issued.secret)).toBe('[redacted]');
    expect(issued.expiresAt).toEqual(new Date(now.getTime() + 300e3));
    expect(decodeJwt(issued.secret.reveal())).toMatchObject({ sub: 'i-7', prj: 'main', aud: SERVICE });
    const { status } = await get(
      `service=${SERVICE}&scope=repository:library/python:pull`,
      basic(issued.username, issued.secret.reveal()),
    );
    expect(status).toBe(200);
  });
});

describe('realm when the revocation store is down', () => {
  it('answers 503 with Retry-After, not 401, and audits an error', async () => {
    const { CodedError } = await import('../../../src/common/errors.ts');
    const audit = memoryAudit();
    const broken = {
      ...deps,
      audit,
      revocations: {
        ...memoryRevocations(),
        revokedAt: async () => {
          throw new CodedError('unavailable', 'store down');
        },
      },
    };
    const handler = createRealmHandler(broken);
    const server = createServer((req, res) => void handler(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/token?service=${SERVICE}&scope=repository:a:pull`;
      const res = await fetch(url, { headers: { authorization: basic('instance:i-1', await ticketFor()) } });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('5');
      expect(audit.events.at(-1)).toMatchObject({ event: 'realm', outcome: 'error', reason: 'unavailable' });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('realm when the audit log cannot be written', () => {
  it('hands out no token: a grant that cannot be audited is a 500, as on /v1/credentials', async () => {
    const { CodedError } = await import('../../../src/common/errors.ts');
    let attempts = 0;
    const audit = {
      record: () => {
        attempts += 1;
        throw new CodedError(
          'audit_log_unavailable',
          'cannot write to the audit log /dev/full (ENOSPC); check free space',
        );
      },
    };
    const handler = createRealmHandler({ ...deps, audit });
    const server = createServer((req, res) => void handler(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/token`;
      const auth = basic('instance:i-1', await ticketFor());
      for (const query of [
        `service=${SERVICE}&scope=repository:library/python:pull`,
        `service=${SERVICE}`,
        'service=unknown.example',
        '',
      ]) {
        const res = await fetch(`${base}?${query}`, { headers: { authorization: auth } });
        const text = await res.text();
        expect(res.status, query).toBe(500);
        expect(JSON.parse(text), query).toMatchObject({ error: 'internal' });
        expect(text, query).not.toMatch(/token"|eyJ/);
      }
      const res = await fetch(`${base}?service=${SERVICE}`, {
        headers: { authorization: basic('instance:i-1', 'garbage') },
      });
      expect(res.status).toBe(500);
      expect(attempts).toBeGreaterThanOrEqual(5);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
