import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { hostOf } from '../../registry/loopback.ts';
import { detectEngines } from '../setup/engines/detect-engines.ts';
import { endpointHealth } from '../setup/engines/endpoint-health.ts';
import { registryPrefix } from '../setup/engine-files/registries-conf.ts';
import { readTomlTables } from '../setup/formats/toml-read.ts';
import { readText } from './hosts-dir-checks.ts';
import { message, skipped, type Check, type CheckResult, type DoctorContext } from './doctor-check.ts';

const FIX = (name: string) => `run docker-credential-dstack configure --local-name ${name}`;

// Local-name mode (doctor --local-name HOST:PORT): the endpoint answers at the name, and each
// engine pulls `HOST:PORT/…` from it over plain http: dockerd because 127.0.0.0/8 is in its
// insecure CIDRs (docker info), containerd because no hosts.toml sends the name elsewhere,
// podman because the registries.conf.d drop-in that decides for the name says insecure = true.
export const localNameChecks: Check = async (ctx) => {
  const name = ctx.options.localName;
  // Not asked for: no line (the mode is the operator's choice, not something to detect).
  if (!name) return [];
  const engines = ctx.options.engines ?? (await detectEngines(ctx.env));
  const results: CheckResult[] = [await endpointAtName(name)];
  const notInstalled = (engine: string) =>
    skipped(`local name, ${engine}`, `${engine} is not installed${ctx.options.engines ? ' (not in --engines)' : ''}`);
  results.push(engines.includes('docker') ? dockerdTakesName(ctx, name) : notInstalled('docker'));
  for (const [engine, check] of [
    ['containerd', containerdTakesName],
    ['podman', podmanTakesName],
  ] as const) {
    if (!engines.includes(engine)) results.push(notInstalled(engine));
    else
      results.push(
        await check(ctx, name).catch((error: unknown) => ({
          status: 'fail' as const,
          name: `local name, ${engine}`,
          detail: message(error),
          fix: 'fix or move the file',
        })),
      );
  }
  return results;
};

async function endpointAtName(name: string): Promise<CheckResult> {
  const check = 'local name, endpoint';
  const plain = await endpointHealth(`http://${name}`);
  if (plain.ok) return { status: 'ok', name: check, detail: `http://${name} answers /healthz` };
  return {
    status: 'fail',
    name: check,
    detail: `nothing answers at http://${name} (${plain.why}): every pull of ${name}/… fails`,
    fix: `run the endpoint on that address: docker-credential-dstack mirror --listen ${name} (or its socket unit)`,
  };
}

function dockerdTakesName(ctx: DoctorContext, name: string): CheckResult {
  const check = 'local name, dockerd';
  if (!ctx.info) return skipped(check, 'no docker info (see the dockerd check above)');
  const host = hostOf(name);
  const ip = host === 'localhost' ? '127.0.0.1' : host;
  const cidr = ctx.info.insecureCidrs.find((c) => inCidr(ip, c));
  if (cidr)
    return {
      status: 'ok',
      name: check,
      detail: `docker info lists ${cidr} as insecure: dockerd pulls ${name}/… over http, nothing to write`,
    };
  if (ctx.info.insecureNames.includes(name))
    return { status: 'ok', name: check, detail: `docker info lists ${name} as insecure` };
  return {
    status: 'fail',
    name: check,
    detail: `docker info does not list ${ip} as insecure (${ctx.info.insecureCidrs.join(', ') || 'no CIDRs'}): dockerd asks ${name} over https only`,
    fix: `add "${name}" to "insecure-registries" in daemon.json and restart dockerd`,
  };
}

// No hosts.toml for the name: containerd's default speaks http to it. One that names the
// endpoint over http is fine; one that names anything else takes the name's pulls there.
async function containerdTakesName(ctx: DoctorContext, name: string): Promise<CheckResult> {
  const check = 'local name, containerd';
  const path = join(ctx.options.containerdCertsDir, name, 'hosts.toml');
  const text = await readText(path);
  if (text === undefined)
    return {
      status: 'ok',
      name: check,
      detail: `no ${path}: containerd's default host config pulls ${name}/… over http`,
    };
  const tables = readTomlTables(text, path);
  const server = tables[0]?.values.get('server');
  const hosts = tables
    .filter((t) => t.path.length === 2 && t.path[0] === 'host')
    .map((t) => t.path[1]!.replace(/\/+$/, ''));
  const wanted = `http://${name}`;
  const elsewhere = [...(typeof server === 'string' ? [server.replace(/\/+$/, '')] : []), ...hosts].filter(
    (u) => u !== wanted,
  );
  if (elsewhere.length === 0) return { status: 'ok', name: check, detail: `${path} names only ${wanted}` };
  return {
    status: 'fail',
    name: check,
    detail: `${path} sends ${name} to ${elsewhere.join(', ')}`,
    fix: `remove ${path} (containerd needs none for ${name}), or make its server ${wanted}`,
  };
}

// The drop-ins are read in name order; the last [[registry]] for the name decides.
async function podmanTakesName(ctx: DoctorContext, name: string): Promise<CheckResult> {
  const check = 'local name, podman';
  const dir = ctx.options.registriesConfDir;
  const files = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.conf')).sort();
  let deciding: { path: string; insecure: boolean } | undefined;
  for (const file of files) {
    const path = join(dir, file);
    const table = readTomlTables((await readText(path)) ?? '', path)
      .filter((t) => registryPrefix(t) === name)
      .pop();
    if (table) deciding = { path, insecure: table.values.get('insecure') === true };
  }
  if (deciding?.insecure)
    return { status: 'ok', name: check, detail: `${deciding.path} has insecure = true for ${name}` };
  const detail = deciding
    ? `${deciding.path} decides for ${name} without insecure = true`
    : `no drop-in in ${dir} names ${name}`;
  return {
    status: 'fail',
    name: check,
    detail: `${detail}: podman refuses the plain-http endpoint ("server gave HTTP response to HTTPS client")`,
    fix: FIX(name),
  };
}

function inCidr(ip: string, cidr: string): boolean {
  const [base, bits] = cidr.split('/');
  const a = ipv4(ip);
  const b = ipv4(base ?? '');
  const n = Number(bits);
  if (a === undefined || b === undefined || !Number.isInteger(n) || n < 0 || n > 32) return false;
  const mask = n === 0 ? 0 : (~0 << (32 - n)) >>> 0;
  return (a & mask) >>> 0 === (b & mask) >>> 0;
}

function ipv4(text: string): number | undefined {
  const parts = text.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return undefined;
  return (((parts[0]! << 24) >>> 0) + (parts[1]! << 16) + (parts[2]! << 8) + parts[3]!) >>> 0;
}
