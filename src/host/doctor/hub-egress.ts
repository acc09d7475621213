import { connect } from 'node:net';
import { skipped, type Check } from './doctor-check.ts';

const HUB = 'registry-1.docker.io:443';
const CONNECT_TIMEOUT_MS = 3000;

// Engines fall back to Docker Hub on any mirror error, silently. A fleet that must pull only
// through its mirror denies Docker Hub egress; this says whether this host could reach it (a
// TCP connect, nothing sent). DOCKER_CREDENTIAL_DSTACK_HUB_PROBE=host:port points it elsewhere.
export const hubEgress: Check = async (ctx) => {
  const name = 'docker hub fallback';
  if (!ctx.setup || ctx.setup.engineMirrors.length === 0) return skipped(name, 'no mirror configured');
  const target = ctx.env.DOCKER_CREDENTIAL_DSTACK_HUB_PROBE?.trim() || HUB;
  const outcome = await tryConnect(target, CONNECT_TIMEOUT_MS);
  if (outcome === 'connected') {
    return {
      status: 'warn',
      name,
      detail: `this host reaches Docker Hub (${target}): when the mirror fails, the engines pull from Docker Hub instead, unnoticed`,
      fix: 'to forbid the fallback, deny egress to Docker Hub (registry-1.docker.io, auth.docker.io, production.cloudflare.docker.com) at the fleet firewall (docs/mirror.md)',
    };
  }
  return {
    status: 'ok',
    name,
    detail: `Docker Hub (${target}) is not reachable from this host (${outcome}): a failing mirror fails the pull instead of falling back`,
  };
};

function tryConnect(target: string, timeoutMs: number): Promise<string> {
  const colon = target.lastIndexOf(':');
  const host = target.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  const port = Number(target.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535)
    return Promise.resolve(`not a host:port: ${target.slice(0, 80)}`);
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    // One bound for the name lookup and the connect together (a socket timeout starts later).
    const timer = setTimeout(() => finish(`no connection in ${timeoutMs / 1000} s`), timeoutMs);
    const finish = (outcome: string): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    socket.once('connect', () => finish('connected'));
    socket.once('error', (error: NodeJS.ErrnoException) => finish(error.code ?? error.message));
  });
}
