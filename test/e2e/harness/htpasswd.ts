import { randomBytes } from 'node:crypto';
import { execa } from 'execa';

// A registry account for the static source: bcrypt entry (`htpasswd -B`) and a random password
// the tests then look for in every log.
export interface Account {
  username: string;
  password: string;
  basic: string; // `Basic base64(user:password)`, also searched for in logs
}

export async function writeHtpasswd(path: string, username: string): Promise<Account> {
  const password = `pw-${randomBytes(12).toString('hex')}`;
  await execa('htpasswd', ['-B', '-b', '-c', path, username, password]);
  return { username, password, basic: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` };
}
