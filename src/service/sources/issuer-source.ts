import { Secret } from '../../common/secret.ts';
import type { CredentialRequest, CredentialSource, IssuedCredential, KeyRing } from '../core/ports.ts';
import { mintTicket } from '../token/ticket.ts';

// The `issuer` credential source: instead of a registry password, an instance gets a pull
// ticket for that registry's token service, which only our realm accepts and only for pulls.
export function createIssuerSource(deps: { ticketKeys: KeyRing; issuerName: string }): CredentialSource {
  return {
    kind: 'issuer',
    async issue(request: CredentialRequest): Promise<IssuedCredential> {
      const issuer = request.registry.issuer;
      if (!issuer) throw new Error(`registry ${request.registry.key} has source issuer but no issuer settings`);
      const { token, expiresAt } = await mintTicket(
        deps.ticketKeys,
        {
          instance: request.identity.instance,
          project: request.identity.project,
          service: issuer.service,
          ttlSeconds: issuer.ticketTtlSeconds,
          issuer: deps.issuerName,
        },
        request.now,
      );
      return {
        kind: 'basic',
        username: ticketUsername(request.identity.instance),
        secret: new Secret(token),
        expiresAt,
      };
    },
  };
}

// The username that goes with a ticket; the realm checks it names the ticket's instance.
export function ticketUsername(instance: string): string {
  return `instance:${instance}`;
}
