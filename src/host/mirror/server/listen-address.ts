import { isIP } from 'node:net';
import { CodedError } from '../../../common/errors.ts';
import { isLoopbackHost } from '../../../registry/loopback.ts';

export interface ListenAddress {
  host: string;
  port: number;
  loopback: boolean;
}

// HOST:PORT or [V6]:PORT; the host is an IP address or localhost (a name that resolves
// elsewhere would make "loopback only" a matter of /etc/hosts).
export function parseListenAddress(text: string): ListenAddress {
  const raw = text.trim();
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(raw);
  if (!match) throw invalid(raw, 'expected HOST:PORT, e.g. 127.0.0.1:8484 or [::1]:8484');
  const host = match[1] ?? match[2]!;
  const port = Number(match[3]);
  if (port > 65535) throw invalid(raw, `port ${port} is out of range`);
  if (host !== 'localhost' && isIP(host) === 0) throw invalid(raw, 'the host must be an IP address or localhost');
  return { host: host === 'localhost' ? '127.0.0.1' : host, port, loopback: isLoopbackHost(host) };
}

function invalid(raw: string, why: string): CodedError {
  return new CodedError('usage', `--listen "${raw.slice(0, 80)}": ${why}`);
}
