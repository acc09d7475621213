import { CodedError } from '../../common/errors.ts';

// The registry name of local-name mode: what the dstack server's
// DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY holds and prefixes to every image that names no
// registry, so every host resolves it to the endpoint on itself. `host:port`, no scheme:
// - the host is 127.0.0.0/8 or `localhost`: dockerd takes 127.0.0.0/8 as an insecure registry
//   by default (https without verification, then http), so it needs no daemon.json entry;
//   ::1 is not in that default;
// - a port, and not 443: containerd's default host config speaks plain http only to a
//   loopback name with a port other than 443, and the shim appends `:latest` only to a name
//   with no `:` at all, so a name with a port must always carry its tag (docs/with-dstack.md,
//   "The name's form").
export function parseLocalName(input: string, flag = '--local-name'): string {
  const raw = input.trim();
  const shown = raw.slice(0, 100);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(raw))
    throw invalid(
      flag,
      shown,
      'no scheme: the name is what DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY holds, e.g. 127.0.0.1:8484',
    );
  const match = /^([^:/\s]+):(\d{1,5})$/.exec(raw);
  if (!match) throw invalid(flag, shown, 'use HOST:PORT with a loopback host, e.g. 127.0.0.1:8484');
  const host = match[1]!.toLowerCase();
  const port = Number(match[2]);
  if (!(host === 'localhost' || /^127(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}$/.test(host))) {
    throw invalid(
      flag,
      shown,
      'the host must be 127.0.0.0/8 or localhost: every host resolves the name to the endpoint on itself, and dockerd takes only 127.0.0.0/8 as insecure by default',
    );
  }
  if (port < 1 || port > 65535) throw invalid(flag, shown, 'the port must be 1-65535');
  if (port === 443)
    throw invalid(
      flag,
      shown,
      "not port 443: containerd speaks plain http only to a loopback name with another port; use the endpoint's port, e.g. 8484",
    );
  return `${host}:${port}`;
}

function invalid(flag: string, shown: string, why: string): CodedError {
  return new CodedError('usage', `${flag} "${shown}": ${why}`);
}
