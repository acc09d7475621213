import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';

// A CA made by the test (openssl), standing in for AWS's signing certificate: its key signs
// identity documents as PKCS#7 with the content attached, the way IMDS's rsa2048 form is.
export interface TestCa {
  certFile: string;
  keyFile: string;
  pem: string;
}

export async function makeTestCa(dir: string, name = 'test-ca'): Promise<TestCa> {
  const certFile = join(dir, `${name}.pem`);
  const keyFile = join(dir, `${name}.key`);
  await execa('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    keyFile,
    '-out',
    certFile,
    '-days',
    '2',
    '-subj',
    `/O=dstack test/CN=${name}`,
  ]);
  return { certFile, keyFile, pem: await readFile(certFile, 'utf8') };
}

// The base64 body IMDS serves at /latest/dynamic/instance-identity/rsa2048 for `document`.
export async function signDocument(ca: TestCa, document: string, dir: string): Promise<string> {
  const input = join(dir, `document-${Date.now()}-${Math.random().toString(36).slice(2)}.json`);
  await writeFile(input, document);
  const { stdout } = await execa('openssl', [
    'cms',
    '-sign',
    '-nodetach',
    '-binary',
    '-md',
    'sha256',
    '-nocerts',
    '-signer',
    ca.certFile,
    '-inkey',
    ca.keyFile,
    '-in',
    input,
    '-outform',
    'PEM',
  ]);
  return stdout.replace(/-----[A-Z0-9 ]+-----/g, '').replace(/\s+/g, '');
}

// An identity document shaped as AWS writes it (pretty-printed, " : " separators).
export function awsDocument(fields: {
  accountId: string;
  instanceId: string;
  region: string;
  pendingTime: Date;
}): string {
  const doc = {
    accountId: fields.accountId,
    architecture: 'x86_64',
    availabilityZone: `${fields.region}a`,
    imageId: 'ami-0123456789abcdef0',
    instanceId: fields.instanceId,
    instanceType: 't3.medium',
    pendingTime: fields.pendingTime.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    privateIp: '10.0.0.7',
    region: fields.region,
    version: '2017-09-30',
  };
  return JSON.stringify(doc, null, 2).replace(/": /g, '" : ');
}

// A stand-in for Azure's PKI: a root the service is told to trust, an intermediate, and leaf
// signing certificates whose SAN the test picks (metadata.azure.com, or an attacker's name).
export interface AzurePki {
  root: TestCa;
  intermediate: TestCa;
  leaf(name: string, san: string): Promise<TestCa>;
}

export async function makeAzurePki(dir: string): Promise<AzurePki> {
  const root = await makeTestCa(dir, 'azure-test-root');
  const ext = join(dir, 'azure-ext.cnf');
  await writeFile(ext, '[ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n');
  const issue = async (name: string, issuer: TestCa, section: string): Promise<TestCa> => {
    const keyFile = join(dir, `${name}.key`);
    const csr = join(dir, `${name}.csr`);
    const certFile = join(dir, `${name}.pem`);
    await execa('openssl', [
      'req',
      '-new',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      csr,
      '-subj',
      `/O=dstack test/CN=${name}`,
    ]);
    await execa('openssl', [
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      issuer.certFile,
      '-CAkey',
      issuer.keyFile,
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      ext,
      '-extensions',
      section,
      '-out',
      certFile,
    ]);
    return { certFile, keyFile, pem: await readFile(certFile, 'utf8') };
  };
  const intermediate = await issue('azure-test-intermediate', root, 'ca');
  return {
    root,
    intermediate,
    leaf: async (name, san) => {
      await writeFile(
        ext,
        `${await readFile(ext, 'utf8')}[${name}]\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nsubjectAltName=DNS:${san}\n`,
      );
      return issue(name, intermediate, name);
    },
  };
}
