import { describe, expect, it } from 'vitest';
import { parseProviderRequest } from '../../../src/host/kubelet/provider-request.ts';
import { goDuration, providerResponse } from '../../../src/host/kubelet/provider-response.ts';
import { authKeysFor } from '../../../src/host/kubelet/auth-keys.ts';
import { DOCKER_HUB_KEY } from '../../../src/registry/registry-key.ts';

const V1 = 'credentialprovider.kubelet.k8s.io/v1';

describe('the kubelet credential provider wire', () => {
  it('reads a request strictly and wraps the token', () => {
    const request = parseProviderRequest(
      JSON.stringify({
        kind: 'CredentialProviderRequest',
        apiVersion: V1,
        image: 'a.example/x:1',
        serviceAccountToken: 'h.p.s',
        serviceAccountAnnotations: { k: 'v' },
      }),
    );
    expect(request.image).toBe('a.example/x:1');
    expect(request.serviceAccountToken?.reveal()).toBe('h.p.s');
    expect(String(request.serviceAccountToken)).not.toContain('h.p.s');
    const bad: [string, RegExp][] = [
      ['{', /not JSON/],
      [JSON.stringify({ kind: 'CredentialProviderRequest', apiVersion: V1 }), /"image" is missing/],
      [JSON.stringify({ kind: 'Other', apiVersion: V1, image: 'x' }), /kind is "Other"/],
      [
        JSON.stringify({ kind: 'CredentialProviderRequest', apiVersion: 'v1', image: 'x' }),
        /apiVersion "v1" is not one/,
      ],
      [`{"kind":"CredentialProviderRequest","apiVersion":"${V1}","image":"x","image":"y"}`, /duplicate field "image"/],
      [
        JSON.stringify({
          kind: 'CredentialProviderRequest',
          apiVersion: V1,
          image: 'x',
          serviceAccountAnnotations: { a: 1 },
        }),
        /must be an object of strings/,
      ],
    ];
    for (const [text, message] of bad) expect(() => parseProviderRequest(text), text).toThrow(message);
    // Nested keys that repeat a top-level name are not duplicates.
    expect(
      parseProviderRequest(
        JSON.stringify({
          kind: 'CredentialProviderRequest',
          apiVersion: V1,
          image: 'x',
          serviceAccountAnnotations: { image: 'y' },
        }),
      ).image,
    ).toBe('x');
  });

  it('writes cacheDuration as Go does, half the remaining life', () => {
    expect(
      ['0s', '1s', '59s', '1m0s', '5m0s', '1h0m0s', '1h1m1s'].map(
        (text, i) => text === goDuration([0, 1, 59, 60, 300, 3600, 3661][i]!),
      ),
    ).toEqual(Array(7).fill(true));
    expect(providerResponse(V1, ['r.example'], { username: 'u', password: 'p' }, 600_999).cacheDuration).toBe('5m0s');
    expect(providerResponse(V1, ['r.example'], { username: 'u', password: 'p' }, 1_500).cacheDuration).toBe('0s');
    expect(providerResponse(V1, ['r.example'], { username: 'u', password: 'p' }, -5).cacheDuration).toBe('0s');
  });

  it('keys auth the way the kubelet matches images: host and port as the image spells them', () => {
    expect(authKeysFor('127.0.0.1:5000/python:3.14', '127.0.0.1:5000')).toEqual(['127.0.0.1:5000']);
    expect(authKeysFor('Registry.Example/app:1', 'registry.example')).toEqual(['Registry.Example']);
    expect(authKeysFor('python:3.14', DOCKER_HUB_KEY)).toEqual(['docker.io', 'index.docker.io']);
    expect(authKeysFor('registry-1.docker.io/library/python', DOCKER_HUB_KEY)).toEqual([
      'docker.io',
      'index.docker.io',
      'registry-1.docker.io',
    ]);
  });
});
