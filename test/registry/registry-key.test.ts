import { describe, expect, it } from 'vitest';
import { DOCKER_HUB_KEY, normalizeRegistryKey } from '../../src/registry/registry-key.ts';
import { registryKeyOfImage } from '../../src/registry/image-reference.ts';

describe('normalizeRegistryKey', () => {
  it.each([
    ['https://index.docker.io/v1/', DOCKER_HUB_KEY],
    ['https://index.docker.io/v1', DOCKER_HUB_KEY],
    ['index.docker.io', DOCKER_HUB_KEY],
    ['docker.io', DOCKER_HUB_KEY],
    ['registry-1.docker.io', DOCKER_HUB_KEY],
    ['  https://index.docker.io/v1/\r\n', DOCKER_HUB_KEY],
    ['docker.mycompany.example', 'docker.mycompany.example'],
    ['Docker.MyCompany.Example', 'docker.mycompany.example'],
    ['https://docker.mycompany.example/', 'docker.mycompany.example'],
    ['http://127.0.0.1:5000/v2/', '127.0.0.1:5000'],
    ['127.0.0.1:5000', '127.0.0.1:5000'],
    ['[::1]:5000', '[::1]:5000'],
    ['localhost:5000', 'localhost:5000'],
    ['docker.io:5000', 'docker.io:5000'],
  ])('%j → %j', (input, expected) => {
    expect(normalizeRegistryKey(input)).toBe(expected);
  });

  it.each(['', '   ', 'ftp://host', 'user:pw@host', 'host:99999', 'bad host', '-host.example', 'host..example'])(
    'rejects %j',
    (input) => {
      expect(() => normalizeRegistryKey(input)).toThrow(/registry key/);
    },
  );

  it.each([
    ['https://u:s3cr3t-pw@host.example', 'https://***@host.example'],
    ['u:s3cr3t-pw@host.example/v2', '***@host.example/v2'],
    ['ftp://u:s3cr3t-pw@host.example', 'ftp://***@host.example'],
    ['https://u:s3cr3t/pw@x@host.example', 'https://***@host.example'],
  ])('masks the user-info of %j in its error', (input, shown) => {
    let message = '';
    try {
      normalizeRegistryKey(input);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain(`"${shown}"`);
    expect(message).not.toContain('s3cr3t');
  });
});

describe('registryKeyOfImage', () => {
  it.each([
    ['python:3.14', DOCKER_HUB_KEY],
    ['library/python', DOCKER_HUB_KEY],
    ['user/app:1', DOCKER_HUB_KEY],
    ['docker.io/library/python:3.14', DOCKER_HUB_KEY],
    ['docker.mycompany.example/python:3.14', 'docker.mycompany.example'],
    ['127.0.0.1:5000/repo:tag', '127.0.0.1:5000'],
    ['localhost/app', 'localhost'],
    ['ghcr.io/org/app@sha256:abc', 'ghcr.io'],
  ])('%j → %j', (image, expected) => {
    expect(registryKeyOfImage(image)).toBe(expected);
  });

  it('rejects an empty reference', () => {
    expect(() => registryKeyOfImage(' ')).toThrow(/invalid image reference/);
  });
});
