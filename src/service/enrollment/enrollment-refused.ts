import { CodedError } from '../../common/errors.ts';

// Why an enrollment was refused, as the audit line names it (stable, one word each).
export type RefusalReason =
  | 'evidence_malformed'
  | 'signature_invalid'
  | 'document_mismatch'
  | 'account_not_allowed'
  | 'region_not_allowed'
  | 'evidence_stale'
  | 'already_enrolled'
  | 'nonce_invalid'
  | 'audience_mismatch'
  | 'issuer_invalid'
  | 'signer_invalid'
  | 'cloud_not_enabled';

// A refused enrollment: 403 with one line for the host, and the reason for the audit.
// `instance` is set once the evidence has named one (it is audited even when refused).
export class EnrollmentRefused extends CodedError {
  readonly reason: RefusalReason;
  readonly instance: string | undefined;
  constructor(reason: RefusalReason, message: string, instance?: string) {
    super('forbidden', `enrollment refused: ${message}`);
    this.reason = reason;
    this.instance = instance;
  }
}
