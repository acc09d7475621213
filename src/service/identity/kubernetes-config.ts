import { CodedError } from '../../common/errors.ts';
import { printable } from '../../common/printable.ts';
import { checkName } from '../core/instance-names.ts';
import { inSetting, validateHttpUrl } from '../../registry/url-rules.ts';

// The audience a projected service-account token must name unless the operator picks another:
// a token minted for the API server (or anything else) is never accepted here.
export const DEFAULT_KUBERNETES_AUDIENCE = 'dstack-registry-auth';

// One cluster whose service-account tokens the service accepts: its issuer (the API server's
// --service-account-issuer), where its signing keys come from, and which service accounts
// act for which dstack project.
export interface KubernetesCluster {
  issuer: string;
  // Exactly one key source: the JWKS at this URL, the discovery document at this URL (its
  // jwks_uri), or a JWKS file the operator saved (`kubectl get --raw /openid/v1/jwks`).
  keys: { kind: 'jwks_url'; url: string } | { kind: 'discovery'; url: string } | { kind: 'jwks_file'; path: string };
  projects: KubernetesBinding[];
}

// (namespace, service account) → project; serviceAccount '*' stands for every account of the namespace.
export interface KubernetesBinding {
  namespace: string;
  serviceAccount: string;
  project: string;
}

export interface KubernetesConfig {
  audience: string;
  clusters: KubernetesCluster[];
}

const TOP = new Set(['audience', 'clusters']);
const CLUSTER = new Set(['issuer', 'jwksUrl', 'discoveryUrl', 'jwksFile', 'projects']);
const BINDING = new Set(['namespace', 'serviceAccount', 'project']);
// RFC 1123 label (namespace) and subdomain (service account name), as Kubernetes validates them.
const LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

// The `kubernetes` object of DSTACK_REGISTRY_AUTH_CONFIG (docs/kubernetes.md). Unknown keys are
// errors, as everywhere in that file. `instanceIssuer` is the service's own issuer name: a cluster
// may not share it, since the `iss` of a bearer token decides how it is verified.
export function parseKubernetesConfig(raw: unknown, where: string, instanceIssuer: string): KubernetesConfig {
  const top = object(raw, `${where}: kubernetes`);
  unknownKeys(top, TOP, `${where}: kubernetes`);
  const audience =
    top.audience === undefined
      ? DEFAULT_KUBERNETES_AUDIENCE
      : nonEmptyString(top.audience, `${where}: kubernetes.audience`);
  if (!Array.isArray(top.clusters) || top.clusters.length === 0)
    throw bad(
      `${where}: kubernetes.clusters`,
      'must be a non-empty list of clusters ({"issuer": …, "jwksFile" or "jwksUrl" or "discoveryUrl": …, "projects": […]})',
    );
  const issuers = new Set<string>();
  const clusters = top.clusters.map((entry, index) => {
    const at = `${where}: kubernetes.clusters[${index}]`;
    const cluster = object(entry, at);
    unknownKeys(cluster, CLUSTER, at);
    const issuer = nonEmptyString(cluster.issuer, `${at}.issuer`);
    if (issuer === instanceIssuer)
      throw bad(
        `${at}.issuer`,
        `"${printable(issuer, 80)}" is the service's own instance-token issuer; use the cluster's --service-account-issuer`,
      );
    if (issuers.has(issuer))
      throw bad(`${at}.issuer`, `"${printable(issuer, 80)}" is configured twice; list each cluster once`);
    issuers.add(issuer);
    return { issuer, keys: keySource(cluster, at), projects: bindings(cluster.projects, `${at}.projects`) };
  });
  return { audience, clusters };
}

function keySource(cluster: Record<string, unknown>, at: string): KubernetesCluster['keys'] {
  const given = (['jwksUrl', 'discoveryUrl', 'jwksFile'] as const).filter((key) => cluster[key] !== undefined);
  if (given.length !== 1)
    throw bad(
      at,
      'needs exactly one of "jwksFile", "jwksUrl" or "discoveryUrl" (where the cluster\'s signing keys come from)',
    );
  const key = given[0]!;
  const text = nonEmptyString(cluster[key], `${at}.${key}`);
  if (key === 'jwksFile') {
    if (!text.startsWith('/')) throw bad(`${at}.jwksFile`, 'must be an absolute path');
    return { kind: 'jwks_file', path: text };
  }
  const url = inSetting(`${at}.${key}`, () => validateHttpUrl(text));
  return key === 'jwksUrl' ? { kind: 'jwks_url', url } : { kind: 'discovery', url };
}

function bindings(raw: unknown, at: string): KubernetesBinding[] {
  if (!Array.isArray(raw) || raw.length === 0)
    throw bad(at, 'must be a non-empty list of {"namespace", "serviceAccount", "project"}');
  return raw.map((entry, index) => {
    const where = `${at}[${index}]`;
    const binding = object(entry, where);
    unknownKeys(binding, BINDING, where);
    const namespace = nonEmptyString(binding.namespace, `${where}.namespace`);
    if (!LABEL.test(namespace)) throw bad(`${where}.namespace`, 'is not a Kubernetes namespace name');
    const serviceAccount = nonEmptyString(binding.serviceAccount, `${where}.serviceAccount`);
    if (serviceAccount !== '*' && !SUBDOMAIN.test(serviceAccount))
      throw bad(`${where}.serviceAccount`, 'is not a service account name (or "*" for every account of the namespace)');
    const project = checkName(binding.project, 'project', 'config_invalid');
    return { namespace, serviceAccount, project };
  });
}

function object(value: unknown, at: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad(at, 'must be an object');
  return value as Record<string, unknown>;
}

function unknownKeys(value: Record<string, unknown>, known: Set<string>, at: string): void {
  for (const key of Object.keys(value)) if (!known.has(key)) throw bad(`${at}.${key}`, 'is not a known setting');
}

function nonEmptyString(value: unknown, at: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw bad(at, 'must be a non-empty string');
  return value.trim();
}

function bad(at: string, why: string): CodedError {
  return new CodedError('config_invalid', `${at} ${why}`);
}
