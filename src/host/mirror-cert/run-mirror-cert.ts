import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { CommandContext } from '../../common/command-context.ts';
import { write } from '../../common/command-context.ts';
import { CodedError } from '../../common/errors.ts';
import { makeLoopbackCertificates } from './make-certificates.ts';

export const MIRROR_CERT_USAGE = `Usage: docker-credential-dstack mirror-cert --out DIR [--name 127.0.0.1] [--system-ca FILE]
  makes a CA and a certificate for the endpoint's loopback name (IP 127.0.0.1, DNS localhost,
  and --name) and writes DIR/ca.pem, DIR/cert.pem, DIR/key.pem (0600) and DIR/bundle.pem
  (the system CAs followed by ca.pem, for the dstack server's REQUESTS_CA_BUNDLE)
Options:
  --out DIR         where to write (created if missing; existing files are replaced)
  --name NAME       the name the dstack server uses for the endpoint (default 127.0.0.1)
  --system-ca FILE  the system CA file bundle.pem starts with (default: the first of
                    ${'/etc/ssl/certs/ca-certificates.crt, /etc/pki/tls/certs/ca-bundle.crt, /etc/ssl/cert.pem'})
`;

const SYSTEM_CA_FILES = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt', '/etc/ssl/cert.pem'];

// `docker-credential-dstack mirror-cert`: see docs/with-dstack.md (local-name mode).
export async function runMirrorCert(ctx: CommandContext): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args: ctx.argv,
      strict: true,
      allowPositionals: false,
      options: {
        help: { type: 'boolean', short: 'h' },
        out: { type: 'string' },
        name: { type: 'string' },
        'system-ca': { type: 'string' },
      },
    }).values;
  } catch (error) {
    throw new CodedError(
      'usage',
      `${(error as Error).message.split('\n')[0]}; see docker-credential-dstack mirror-cert --help`,
    );
  }
  if (values.help) {
    await write(ctx.stdout, MIRROR_CERT_USAGE);
    return 0;
  }
  if (values.out === undefined)
    throw new CodedError(
      'usage',
      '--out DIR is required: the directory to write ca.pem, cert.pem, key.pem and bundle.pem to',
    );
  const name = values.name ?? '127.0.0.1';
  if (
    isIP(name) === 0 &&
    !/^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/.test(
      name,
    )
  ) {
    throw new CodedError(
      'usage',
      `--name ${name.slice(0, 60)}: not an IP address or host name (no port: the certificate names the host only)`,
    );
  }
  const dir = resolve(values.out);
  const systemCa = values['system-ca'] ?? SYSTEM_CA_FILES.find((file) => existsSync(file));
  let systemPem = '';
  if (systemCa !== undefined) {
    try {
      systemPem = await readFile(systemCa, 'utf8');
    } catch (error) {
      throw new CodedError(
        'usage',
        `--system-ca ${systemCa}: cannot read it (${(error as NodeJS.ErrnoException).code ?? 'error'}); name a readable PEM bundle`,
      );
    }
    if (!systemPem.includes('-----BEGIN CERTIFICATE-----'))
      throw new CodedError('usage', `${systemCa} holds no PEM certificate; name the system CA bundle with --system-ca`);
  }
  const made = await makeLoopbackCertificates(name);
  await mkdir(dir, { recursive: true });
  await replace(join(dir, 'key.pem'), made.keyPem, 0o600);
  await replace(join(dir, 'cert.pem'), made.certPem, 0o644);
  await replace(join(dir, 'ca.pem'), made.caPem, 0o644);
  // Why both: when REQUESTS_CA_BUNDLE is set, requests verifies against that file alone, so
  // it must keep the public CAs the dstack server's other https calls need. A snapshot: run
  // mirror-cert again after the system CAs change.
  const separator = systemPem === '' || systemPem.endsWith('\n') ? '' : '\n';
  await replace(join(dir, 'bundle.pem'), `${systemPem}${separator}${made.caPem}`, 0o644);
  const lines = [
    `wrote ${join(dir, 'ca.pem')}, cert.pem, key.pem (0600), bundle.pem (${systemCa ?? 'no system CA file found: ca.pem only'} + ca.pem) for ${name}`,
    `endpoint: docker-credential-dstack mirror --tls-cert ${join(dir, 'cert.pem')} --tls-key ${join(dir, 'key.pem')}`,
    'dstack server process (requests uses only this file, so it holds the system CAs too):',
    `REQUESTS_CA_BUNDLE=${join(dir, 'bundle.pem')}`,
  ];
  if (systemCa === undefined)
    lines.push(
      'warning: bundle.pem lacks the public CAs; pass --system-ca FILE so the dstack server still reaches public https sites',
    );
  await write(ctx.stdout, `${lines.join('\n')}\n`);
  return 0;
}

// Written beside, then renamed: a reader never sees half a file, and key.pem is 0600 from
// its first byte (an existing file's mode is not inherited).
async function replace(path: string, text: string, mode: number): Promise<void> {
  const temp = `${path}.tmp-${process.pid}`;
  await rm(temp, { force: true });
  await writeFile(temp, text, { mode, flag: 'wx' });
  await rename(temp, path);
}
