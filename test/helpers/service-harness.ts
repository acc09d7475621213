import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { loadServiceConfig, type ServiceConfig } from '../../src/service/config/service-config.ts';
import { buildService, type Service } from '../../src/service/build-service.ts';
import { startServer, type RunningServer } from '../../src/service/http/start-server.ts';
import { mintInstanceToken } from '../../src/service/token/instance-token.ts';

// In the past, so that commands using the real clock (revoke) act after it.
export const START = new Date('2026-01-15T12:00:00.000Z');

// A service built in-process on 127.0.0.1:0 with a frozen clock that tests move by hand;
// audit lines and log lines are captured so tests can grep them.
export interface TestService {
  url: string;
  dataDir: string;
  config: ServiceConfig;
  service: Service;
  server: RunningServer;
  auditLines: string[];
  logLines: string[];
  now(): Date;
  advance(seconds: number): void;
  // A counter's value in /metrics for the series with exactly these labels (`a="x",b="y"`), 0 when absent.
  metric(name: string, labels: string): number;
  mint(instance: string, project: string, ttlSeconds?: number): Promise<string>;
  request(
    path: string,
    init?: { method?: string; token?: string; body?: unknown; headers?: Record<string, string> },
  ): Promise<{ status: number; headers: Headers; text: string; json: any }>;
  close(): Promise<void>;
}

export async function startTestService(
  options: { env?: Record<string, string>; dataDir?: string } = {},
): Promise<TestService> {
  const ownDir = options.dataDir === undefined ? await mkdtemp(join(tmpdir(), 'registry-auth-test-')) : undefined;
  const dataDir = options.dataDir ?? ownDir!;
  let now = START;
  const clock = () => now;
  const auditLines: string[] = [];
  const logLines: string[] = [];
  const auditStream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      auditLines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      callback();
    },
  });
  const config = await loadServiceConfig(options.env ?? {}, { listen: '127.0.0.1:0', dataDir });
  const service = await buildService(config, {
    env: options.env ?? {},
    clock,
    auditStream,
    log: (line) => logLines.push(line),
  });
  const server = await startServer(service.handler, config);
  return {
    url: server.url,
    dataDir,
    config,
    service,
    server,
    auditLines,
    logLines,
    now: clock,
    advance(seconds) {
      now = new Date(now.getTime() + seconds * 1000);
    },
    metric(name, labels) {
      return Number(new RegExp(`^${name}\\{${labels}\\} (\\d+)$`, 'm').exec(service.metrics.render())?.[1] ?? 0);
    },
    async mint(instance, project, ttlSeconds = 3600) {
      return (
        await mintInstanceToken(service.instanceKeys, { instance, project, ttlSeconds, issuer: config.issuerName }, now)
      ).token;
    },
    async request(path, init = {}) {
      const headers: Record<string, string> = { ...init.headers };
      if (init.token !== undefined) headers.authorization = `Bearer ${init.token}`;
      let body: string | undefined;
      if (init.body !== undefined) {
        body = typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
        headers['content-type'] ??= 'application/json';
      }
      const response = await fetch(`${server.url}${path}`, {
        method: init.method ?? (body === undefined ? 'GET' : 'POST'),
        headers,
        ...(body !== undefined ? { body } : {}),
      });
      const text = await response.text();
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: response.status, headers: response.headers, text, json };
    },
    async close() {
      await server.close(1000);
      await service.close();
      if (ownDir) await rm(ownDir, { recursive: true, force: true });
    },
  };
}

// The demo-style default: a default registry with static credentials from dstack's variables.
export const DEFAULT_REGISTRY_ENV = {
  DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY: 'docker.mycompany.example',
  DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_USERNAME: 'docker-user',
  DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_PASSWORD: 'S3cret-docker-password-4711',
};
export const PASSWORD = DEFAULT_REGISTRY_ENV.DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY_PASSWORD;
export const ADMIN_TOKEN = 'admin-token-for-tests-0123456789';
