import { CodedError } from '../../common/errors.ts';
import type { KeyRing, RevocationStore } from '../core/ports.ts';
import { isRevoked } from '../store/is-revoked.ts';
import { signJwt } from './jwt-sign.ts';
import { verifySignedJwt } from './jwt-verify.ts';

export const TICKET_TYPE = 'dstack-ticket+jwt';

// Tickets are minted and checked by the service itself (one clock, or replicas kept in step),
// and live for minutes: a 30 s grace would stretch a 1-minute ticket by half. 5 s covers
// replicas' drift.
export const TICKET_CLOCK_TOLERANCE_SECONDS = 5;

// What a pull ticket proves: this instance of this project may ask our realm for a pull
// token for this registry service, until `expiresAt`.
export interface PullTicket {
  instance: string;
  project: string;
  service: string;
  issuedAt: Date;
  expiresAt: Date;
  jti: string;
}

export interface TicketClaims {
  instance: string;
  project: string;
  // The registry's token `service`: the ticket is good only at that registry's realm request.
  service: string;
  ttlSeconds: number;
  issuer: string;
}

// A minutes-long compact JWS signed by the ticket key (EdDSA), handed to a runner host as
// the password of its registry credential. Useless anywhere but at our realm.
export async function mintTicket(
  keys: KeyRing,
  claims: TicketClaims,
  now: Date,
): Promise<{ token: string; expiresAt: Date }> {
  if (keys.current.alg !== 'EdDSA') throw new Error('pull tickets are signed with an EdDSA key ring');
  if (!claims.instance || !claims.project || !claims.service)
    throw new Error('a pull ticket needs an instance, a project and a service');
  if (!(claims.ttlSeconds > 0)) throw new Error('a pull ticket needs a positive lifetime');
  return signJwt(keys.current, {
    typ: TICKET_TYPE,
    claims: { iss: claims.issuer, sub: claims.instance, prj: claims.project, aud: claims.service },
    issuedAt: now,
    expiresAt: new Date(now.getTime() + claims.ttlSeconds * 1000),
    preciseIssuedAt: true,
  });
}

// A ticket whose signature held but whose claims did not: who presented it is known, so the
// realm's audit names the instance.
export class TicketRejected extends CodedError {
  readonly ticket: PullTicket;
  constructor(code: string, message: string, ticket: PullTicket) {
    super(code, message);
    this.ticket = ticket;
  }
}

export interface VerifyTicketOptions {
  issuer: string;
  // The `service` the realm request names; the ticket's audience must equal it.
  service: string;
  now: Date;
  revocations: RevocationStore;
}

// The expensive, cacheable half: signature (EdDSA keys of the ring only), type, issuer,
// claims, expiry at `now`. Throws CodedError token_invalid or token_expired; messages never
// contain the ticket. The realm pairs it with checkTicket (src/service/realm/ticket-verifier.ts).
export async function verifyTicketSignature(
  token: string,
  keys: KeyRing,
  options: { issuer: string; now: Date },
): Promise<PullTicket> {
  const ring = { current: keys.current, all: keys.all.filter((k) => k.alg === 'EdDSA') };
  const { payload } = await verifySignedJwt(token, ring, {
    typ: TICKET_TYPE,
    issuer: options.issuer,
    now: options.now,
    requiredClaims: ['iss', 'sub', 'prj', 'aud', 'iat', 'exp', 'jti'],
    what: 'pull ticket',
    clockToleranceSeconds: TICKET_CLOCK_TOLERANCE_SECONDS,
  });
  const { sub, prj, aud, iat, exp, jti } = payload;
  if (
    typeof sub !== 'string' ||
    !sub ||
    typeof prj !== 'string' ||
    !prj ||
    typeof aud !== 'string' ||
    typeof jti !== 'string' ||
    typeof iat !== 'number' ||
    typeof exp !== 'number'
  ) {
    throw new CodedError('token_invalid', 'pull ticket rejected: malformed claims');
  }
  return {
    instance: sub,
    project: prj,
    service: aud,
    issuedAt: new Date(iat * 1000),
    expiresAt: new Date(exp * 1000),
    jti,
  };
}

// The per-request half, also for a ticket whose signature was verified earlier: still
// unexpired at `now` (same tolerance as the signature check), for this service, not revoked.
export async function checkTicket(
  ticket: PullTicket,
  options: Omit<VerifyTicketOptions, 'issuer'>,
): Promise<PullTicket> {
  if (options.now.getTime() > ticket.expiresAt.getTime() + TICKET_CLOCK_TOLERANCE_SECONDS * 1000) {
    throw new TicketRejected('token_expired', 'pull ticket expired; get a new one', ticket);
  }
  if (ticket.service !== options.service) {
    throw new TicketRejected(
      'token_wrong_service',
      `pull ticket rejected: it was issued for another registry service than "${options.service}"`,
      ticket,
    );
  }
  if (await isRevoked(options.revocations, ticket.instance, ticket.issuedAt)) {
    throw new TicketRejected('token_revoked', `pull ticket rejected: instance ${ticket.instance} was revoked`, ticket);
  }
  return ticket;
}
