import { CodedError } from '../../common/errors.ts';
import { printable } from '../../common/printable.ts';
import { Secret } from '../../common/secret.ts';

// The kubelet's exec plugin API versions with this request shape; the answer echoes the one asked.
export const PROVIDER_API_VERSIONS = [
  'credentialprovider.kubelet.k8s.io/v1',
  'credentialprovider.kubelet.k8s.io/v1beta1',
  'credentialprovider.kubelet.k8s.io/v1alpha1',
] as const;
export type ProviderApiVersion = (typeof PROVIDER_API_VERSIONS)[number];

// A CredentialProviderRequest. `serviceAccountToken` and `serviceAccountAnnotations` come only
// with the service-account-token mode (KEP-4412: alpha 1.33, beta and on by default 1.34).
export interface ProviderRequest {
  apiVersion: ProviderApiVersion;
  image: string;
  serviceAccountToken?: Secret;
  serviceAccountAnnotations?: Record<string, string>;
}

const FIELDS = new Set(['kind', 'apiVersion', 'image', 'serviceAccountToken', 'serviceAccountAnnotations']);
const FIX =
  'the kubelet sends {"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1","image":…}';

// Decoded strictly, as the kubelet decodes our answer: an unknown or duplicated field, a wrong
// kind or version is an error, never ignored. The token is wrapped at once so that no message
// or log line can carry it.
export function parseProviderRequest(text: string): ProviderRequest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw bad(`the request on stdin is not JSON; ${FIX}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw bad(`the request on stdin is not a JSON object; ${FIX}`);
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record))
    if (!FIELDS.has(key))
      throw bad(
        `unknown field "${printable(key, 60)}" in the CredentialProviderRequest; this provider speaks ${PROVIDER_API_VERSIONS.join(', ')}`,
      );
  duplicateKeys(text);
  if (record.kind !== 'CredentialProviderRequest')
    throw bad(`kind is ${quote(record.kind)}, not "CredentialProviderRequest"; ${FIX}`);
  const apiVersion = record.apiVersion;
  if (!PROVIDER_API_VERSIONS.includes(apiVersion as ProviderApiVersion)) {
    throw bad(
      `apiVersion ${quote(apiVersion)} is not one this provider speaks (${PROVIDER_API_VERSIONS.join(', ')}); set apiVersion: credentialprovider.kubelet.k8s.io/v1 in the CredentialProviderConfig`,
    );
  }
  if (typeof record.image !== 'string' || record.image.trim() === '')
    throw bad('"image" is missing or empty in the CredentialProviderRequest');
  const request: ProviderRequest = { apiVersion: apiVersion as ProviderApiVersion, image: record.image };
  const token = record.serviceAccountToken;
  if (token !== undefined && token !== '') {
    if (typeof token !== 'string') throw bad('"serviceAccountToken" must be a string');
    request.serviceAccountToken = new Secret(token);
  }
  const annotations = record.serviceAccountAnnotations;
  if (annotations !== undefined && annotations !== null) {
    if (
      typeof annotations !== 'object' ||
      Array.isArray(annotations) ||
      !Object.values(annotations).every((v) => typeof v === 'string')
    )
      throw bad('"serviceAccountAnnotations" must be an object of strings');
    request.serviceAccountAnnotations = annotations as Record<string, string>;
  }
  return request;
}

// JSON.parse keeps the last of two equal keys; the kubelet's strict decoder refuses them. The
// request is flat but for the annotations object, so a top-level scan of key tokens suffices.
function duplicateKeys(text: string): void {
  const seen = new Set<string>();
  let depth = 0;
  for (const match of text.matchAll(/"(?:[^"\\]|\\.)*"\s*:?|[{}[\]]/g)) {
    const token = match[0];
    if (token === '{' || token === '[') depth++;
    else if (token === '}' || token === ']') depth--;
    else if (depth === 1 && token.endsWith(':')) {
      const key = JSON.parse(token.slice(0, -1).trim()) as string;
      if (seen.has(key)) throw bad(`duplicate field "${printable(key, 60)}" in the CredentialProviderRequest`);
      seen.add(key);
    }
  }
}

function quote(value: unknown): string {
  return typeof value === 'string'
    ? `"${printable(value, 80)}"`
    : String(value === undefined ? 'missing' : typeof value);
}

function bad(message: string): CodedError {
  return new CodedError('request_invalid', message);
}
