import { printable } from '../common/printable.ts';

// POST /v1/credentials (docs/contract.md): the request and the two kinds of answer, as both
// halves read and write them. Plain data; the host wraps secrets in Secret after parsing.

export interface CredentialRequestBody {
  // Normalised registry key (src/registry/registry-key.ts).
  registry: string;
  // Repository path as the registry names it (`library/python`). Sent by the mirror endpoint
  // and auth-header; a brokered registry answers only when it is present.
  repository?: string;
}

// `basic`: a username and secret the client sends as Basic auth, or trades at the registry's
// realm itself (static password, or an issuer pull ticket).
export interface BasicCredentialAnswer {
  kind: 'basic';
  registry: string;
  username: string;
  secret: string;
  expires_at: string;
  source: string;
}

// `bearer`: a registry token for one repository, pull only, obtained by the service at the
// registry's own realm (broker source). Sent upstream as `Authorization: Bearer`.
export interface BearerCredentialAnswer {
  kind: 'bearer';
  registry: string;
  repository: string;
  token: string;
  expires_at: string;
  source: string;
}

export type CredentialAnswer = BasicCredentialAnswer | BearerCredentialAnswer;

// Why a parse failed, for the caller's "sent an invalid answer: …" message.
export type ParsedAnswer = { ok: true; answer: CredentialAnswer } | { ok: false; why: string };

// Reads a 200 body. An answer without `kind` comes from a service older than bearer tokens
// and is `basic`.
export function parseCredentialAnswer(value: unknown): ParsedAnswer {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { ok: false, why: 'the answer is not a JSON object' };
  const record = value as Record<string, unknown>;
  const kind = record.kind ?? 'basic';
  const expires = typeof record.expires_at === 'string' ? record.expires_at : undefined;
  if (expires === undefined || Number.isNaN(new Date(expires).getTime()))
    return { ok: false, why: 'no valid "expires_at"' };
  const registry = typeof record.registry === 'string' ? record.registry : '';
  const source = typeof record.source === 'string' ? record.source : '';
  if (kind === 'basic') {
    if (typeof record.username !== 'string' || typeof record.secret !== 'string' || record.secret === '')
      return { ok: false, why: 'lacks "username" or "secret"' };
    return {
      ok: true,
      answer: { kind, registry, username: record.username, secret: record.secret, expires_at: expires, source },
    };
  }
  if (kind === 'bearer') {
    if (typeof record.token !== 'string' || record.token === '' || typeof record.repository !== 'string')
      return { ok: false, why: 'a bearer answer lacks "token" or "repository"' };
    return {
      ok: true,
      answer: { kind, registry, repository: record.repository, token: record.token, expires_at: expires, source },
    };
  }
  return { ok: false, why: `unknown credential kind "${printable(String(kind), 20)}"` };
}
