import { randomBytes } from 'node:crypto';
import { execa } from 'execa';

// A registry account for the static source: bcrypt entry (`htpasswd -B`) and a random password
// the tests then look for in every log.
export interface Account {
  username: string;
  password: string;
  basic: string; // `Basic base64(user:password)`, also searched for in logs
}

// `cost`: bcrypt's work factor (htpasswd's default 5); the registry pays it on every request,
// so a benchmark of request latency asks for the minimum, 4. `password`: one a vendor stand-in
// mints (the cloud sources), instead of a random one.
export async function writeHtpasswd(
  path: string,
  username: string,
  options: { cost?: number; password?: string } = {},
): Promise<Account> {
  const password = options.password ?? `pw-${randomBytes(12).toString('hex')}`;
  await execa('htpasswd', [
    '-B',
    ...(options.cost ? ['-C', String(options.cost)] : []),
    '-b',
    '-c',
    path,
    username,
    password,
  ]);
  return { username, password, basic: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` };
}
