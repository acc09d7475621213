import { describe, expect, it } from 'vitest';
import { unknownSettings } from '../../../src/service/config/unknown-settings.ts';

describe('unknownSettings', () => {
  it('names misspelt service and dstack settings, and nothing else', () => {
    const env = {
      DSTACK_REGISTRY_AUTH_DEFAULT_SOURCES: 'issuer',
      DSTACK_REGISTRY_AUTH_ADMINTOKEN: 'x',
      DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_PASSWD: 'y',
      DSTACK_REGISTRY_AUTH_DEFAULT_SOURCE: 'issuer',
      DSTACK_REGISTRY_AUTH_TICKET_PREVIOUS_KEY_FILES: '/k.pem',
      DSTACK_REGISTRY_AUTH_REGISTRY_CERT_DIR: '/certs',
      DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY: 'r.example',
      DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_USERNAME: 'u',
      PATH: '/usr/bin',
    };
    expect(unknownSettings(env)).toEqual([
      'DSTACK_REGISTRY_AUTH_ADMINTOKEN',
      'DSTACK_REGISTRY_AUTH_DEFAULT_SOURCES',
      'DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_PASSWD',
    ]);
  });
});
