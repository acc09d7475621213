import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { START, startTestService, type TestService } from '../../helpers/service-harness.ts';
import { DOCKER_HUB_KEY } from '../../../src/registry/registry-key.ts';

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService({
    env: {
      DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY: 'docker.mycompany.example',
      DSTACK_REGISTRY_AUTH_DEFAULT_SOURCE: 'issuer',
    },
  });
});
afterAll(async () => {
  await svc.close();
});

describe('issuer source and token realm, wired by build-service', () => {
  it('issues a pull ticket at /v1/credentials that the realm at /v1/token exchanges for a registry token', async () => {
    const token = await svc.mint('i-7', 'main');
    const credential = await svc.request('/v1/credentials', { token, body: { registry: DOCKER_HUB_KEY } });
    expect(credential.status).toBe(200);
    expect(credential.json).toMatchObject({ registry: DOCKER_HUB_KEY, username: 'instance:i-7', source: 'issuer' });
    expect(Date.parse(credential.json.expires_at)).toBe(START.getTime() + 300_000);
    const ticket = credential.json.secret as string;
    expect(decodeProtectedHeader(ticket).typ).toBe('dstack-ticket+jwt');
    const basic = Buffer.from(`${credential.json.username}:${ticket}`).toString('base64');
    const realm = await svc.request(
      '/v1/token?service=docker.mycompany.example&scope=repository:library/python:pull,push',
      { headers: { authorization: `Basic ${basic}` } },
    );
    expect(realm.status).toBe(200);
    const claims = decodeJwt(realm.json.token);
    expect(claims).toMatchObject({
      aud: 'docker.mycompany.example',
      access: [{ type: 'repository', name: 'library/python', actions: ['pull'] }],
    });
    const audit = svc.auditLines.map((line) => JSON.parse(line));
    expect(audit).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ event: 'credential', outcome: 'granted', source: 'issuer', instance: 'i-7' }),
        expect.objectContaining({ event: 'realm', outcome: 'granted' }),
      ]),
    );
  });
});
