import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuditEvent, AuditLog, Clock, KeyRing, Metrics, RegistryEntry, RevocationStore } from '../core/ports.ts';
import { basicCredentials, sendError, sendJson } from '../http/http-io.ts';
import { isCodedError, oneLine } from '../../common/errors.ts';
import { formatScope, parseScopes } from '../token/scope.ts';
import { TicketRejected, type PullTicket } from '../token/ticket.ts';
import { createTicketVerifier } from './ticket-verifier.ts';
import { mintRegistryToken } from '../token/registry-token.ts';
import type { RegistryKeyRing } from '../token/registry-signing-keys.ts';
import { decideAccess } from './access-decision.ts';
import { ticketUsername } from '../sources/issuer-source.ts';
import { readRealmRequest, type RealmRequest } from './realm-request.ts';
import { printable } from '../../common/printable.ts';
import { registryErrorBody } from '../../contract/registry-error-body.ts';

export interface RealmDeps {
  registries: RegistryEntry[];
  ticketKeys: KeyRing;
  registryKeys: RegistryKeyRing;
  revocations: RevocationStore;
  audit: AuditLog;
  metrics: Metrics;
  clock: Clock;
  issuerName: string;
  // Where a 503's cause goes (a replaced revocation store names itself and the remedy).
  log?: (line: string) => void;
}

// What a registry client is told on a rejected credential (the token spec's Basic challenge).
export const REALM_CHALLENGE = 'Basic realm="dstack-registry-auth"';
export const REALM_REQUESTS_METRIC = 'dstack_registry_auth_realm_requests_total';
export const REALM_DURATION_METRIC = 'dstack_registry_auth_realm_request_duration_seconds';

type Outcome = { status: number; outcome: 'granted' | 'denied' | 'error'; reason: string };

// The token realm (GET with Basic auth, POST with the OAuth2 password grant) of the
// distribution token spec, for every registry whose source is `issuer`: it checks the pull
// ticket and answers a registry token granting `pull` on what the project may read.
export function createRealmHandler(deps: RealmDeps): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const byService = new Map<string, RegistryEntry>();
  for (const registry of deps.registries) {
    if (registry.source === 'issuer' && registry.issuer && !byService.has(registry.issuer.service))
      byService.set(registry.issuer.service, registry);
  }
  const verifyTicket = createTicketVerifier({
    keys: deps.ticketKeys,
    issuer: deps.issuerName,
    revocations: deps.revocations,
  });
  return async (req, res) => {
    const started = process.hrtime.bigint();
    const result = await handle(deps, byService, verifyTicket, req, res);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    deps.metrics.increment(REALM_REQUESTS_METRIC, { outcome: result.outcome, reason: result.reason });
    deps.metrics.observe(REALM_DURATION_METRIC, seconds, { outcome: result.outcome });
  };
}

type TicketVerifier = ReturnType<typeof createTicketVerifier>;

async function handle(
  deps: RealmDeps,
  byService: Map<string, RegistryEntry>,
  verifyTicket: TicketVerifier,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<Outcome> {
  let request: RealmRequest;
  const basic = basicCredentials(req);
  if (basic === 'malformed') {
    req.resume();
    return reject(
      deps,
      res,
      { event: 'realm' },
      'credential_malformed',
      'token_invalid',
      'the Authorization header is not a Basic credential (base64 of user:password); send the user name and pull ticket from the credential helper',
    );
  }
  try {
    const parsed = await readRealmRequest(req, basic);
    if ('status' in parsed) {
      deps.audit.record({ event: 'realm', outcome: 'denied', reason: parsed.code });
      sendError(res, parsed.status, parsed.code, parsed.message, parsed.headers);
      return { status: parsed.status, outcome: 'denied', reason: parsed.code };
    }
    request = parsed.credential ? { ...parsed, credential: ticketCredential(parsed.credential) } : parsed;
  } catch (error) {
    if (isCodedError(error, 'payload_too_large')) {
      sendError(res, 413, 'payload_too_large', error.message);
      return { status: 413, outcome: 'denied', reason: 'payload_too_large' };
    }
    return internalError(deps, res, error);
  }
  const scopes = parseScopes(request.scopes);
  const scopeText = scopes.map(formatScope).join(' ');
  const registry = byService.get(request.service);
  if (!registry) {
    const message = `unknown service "${printable(request.service)}": no registry with source issuer has it; check the registry's auth.token.service`;
    try {
      deps.audit.record({
        event: 'realm',
        outcome: 'denied',
        reason: 'unknown_service',
        service: request.service.slice(0, 200),
        scope: scopeText,
      });
    } catch (error) {
      return internalError(deps, res, error);
    }
    sendError(res, 400, 'bad_request', message);
    return { status: 400, outcome: 'denied', reason: 'unknown_service' };
  }
  const audit: Omit<AuditEvent, 'outcome'> = {
    event: 'realm',
    registry: registry.key,
    service: request.service,
    source: 'issuer',
    scope: scopeText,
  };
  try {
    const now = deps.clock();
    let ticket: PullTicket | undefined;
    if (request.credential) {
      try {
        ticket = await verifyTicket(request.credential.password, request.service, now);
        if (request.credential.username !== ticketUsername(ticket.instance)) {
          return reject(
            deps,
            res,
            { ...audit, instance: ticket.instance, project: ticket.project },
            'username_mismatch',
            'token_invalid',
            `user name does not match the pull ticket's instance; send the user name that came with the ticket`,
          );
        }
      } catch (error) {
        if (!isCodedError(error) || !error.code.startsWith('token_')) throw error;
        const reason = `ticket_${error.code.slice('token_'.length)}`;
        const code = error.code === 'token_wrong_service' ? 'token_invalid' : error.code;
        const who =
          error instanceof TicketRejected ? { instance: error.ticket.instance, project: error.ticket.project } : {};
        return reject(deps, res, { ...audit, ...who }, reason, code, error.message);
      }
    }
    const identity = ticket ? { instance: ticket.instance, project: ticket.project } : {};
    const decision = decideAccess(registry, ticket ? { project: ticket.project } : undefined, scopes);
    const issued = await mintRegistryToken(
      deps.registryKeys,
      {
        issuer: deps.issuerName,
        subject: ticket?.instance ?? '',
        audience: request.service,
        access: decision.access,
        ttlSeconds: registry.issuer!.tokenTtlSeconds,
      },
      now,
    );
    const { outcome, reason, detail } = summarize(
      decision.access.length,
      [...new Set(decision.denials.map((d) => d.reason))],
      ticket !== undefined,
      scopes.length,
    );
    // Audit first: a token that cannot be audited is not handed out (fail closed, as /v1/credentials).
    deps.audit.record({ ...audit, ...identity, outcome, reason: detail });
    sendJson(res, 200, {
      token: issued.token,
      access_token: issued.token,
      expires_in: issued.expiresIn,
      issued_at: issued.issuedAt.toISOString(),
    });
    return { status: 200, outcome, reason };
  } catch (error) {
    return internalError(deps, res, error, audit);
  }
}

// The user name that comes with a ticket (`instance:<id>`) contains a colon, which Basic
// auth cannot tell from the separator, and `ctr --user` splits at the first colon even for the
// password grant's form fields; a ticket (a compact JWS) never contains one, so however the
// client split it, the credential is joined and split again at the last colon.
function ticketCredential(credential: { username: string; password: string }): { username: string; password: string } {
  const joined = `${credential.username}:${credential.password}`;
  const colon = joined.lastIndexOf(':');
  return { username: joined.slice(0, colon), password: joined.slice(colon + 1) };
}

// Outcome and a bounded metrics reason for a token that was issued; the audit gets the detail.
function summarize(
  granted: number,
  denials: string[],
  authenticated: boolean,
  requested: number,
): { outcome: 'granted' | 'denied'; reason: string; detail: string } {
  if (requested === 0)
    return authenticated
      ? { outcome: 'granted', reason: 'login', detail: 'login' }
      : { outcome: 'denied', reason: 'anonymous', detail: 'anonymous' };
  if (granted === 0) return { outcome: 'denied', reason: denials.join(','), detail: denials.join(',') };
  if (denials.length === 0) return { outcome: 'granted', reason: 'pull', detail: 'pull' };
  return { outcome: 'granted', reason: 'partial', detail: `partial:${denials.join(',')}` };
}

// What the person pulling should do, by the reason the ticket was refused.
const REMEDIES: Record<string, string> = {
  ticket_revoked: 'ask the dstack operator for a new instance token',
  ticket_expired: 'run the pull again (the credential helper fetches a new ticket)',
  ticket_wrong_service: "check that the registry's auth.token.service is the service dstack-registry-auth has for it",
  username_mismatch: 'send the user name and ticket exactly as the credential helper gave them',
  ticket_invalid:
    'check that this registry trusts the dstack-registry-auth that issued the ticket (docker-credential-dstack doctor)',
};

// A refused credential: the contract's body for our own clients, plus the registry error format
// (`errors`), which dockerd, containerd and containers/image print as `unauthorized: <message>`
// instead of a bare `authentication required`.
function reject(
  deps: RealmDeps,
  res: ServerResponse,
  audit: Omit<AuditEvent, 'outcome'>,
  reason: string,
  code: string,
  message: string,
): Outcome {
  deps.audit.record({ ...audit, outcome: 'denied', reason });
  const remedy = REMEDIES[reason];
  const forPerson =
    remedy === undefined
      ? `dstack-registry-auth: ${message}`
      : `dstack-registry-auth refused the pull ticket: ${message}; ${remedy}`;
  sendJson(
    res,
    401,
    { error: code, message, ...registryErrorBody('UNAUTHORIZED', forPerson) },
    { 'www-authenticate': REALM_CHALLENGE },
  );
  return { status: 401, outcome: 'denied', reason };
}

// A revocation store that cannot answer is a 503 with Retry-After (engines retry); anything
// else is a 500 without detail. Either way the ticket may be fine, so no 401.
function internalError(deps: RealmDeps, res: ServerResponse, error: unknown, audit: Partial<AuditEvent> = {}): Outcome {
  const unavailable = isCodedError(error, 'unavailable');
  if (unavailable) deps.log?.(`unavailable: ${oneLine(error)}`);
  if (!res.headersSent) {
    if (unavailable)
      sendError(res, 503, 'unavailable', 'the token realm cannot check revocations right now; retry shortly', {
        'retry-after': '5',
      });
    else sendError(res, 500, 'internal', 'the token realm failed unexpectedly; retry, and report it if it persists');
  }
  const reason = unavailable ? 'unavailable' : 'internal';
  try {
    deps.audit.record({ ...audit, event: 'realm', outcome: 'error', reason });
  } catch {
    // The audit log itself failing is what brought us here; the 500 has been sent.
  }
  return { status: unavailable ? 503 : 500, outcome: 'error', reason };
}
