import { readFileSync } from 'node:fs';

// Who may pull through the endpoint: uid 0 (dockerd, containerd, root podman) always, plus
// the uids given with --allow-uid and the members of the groups given with --allow-gid
// (a user's primary group from /etc/passwd, supplementary ones from /etc/group), resolved
// once at start: a user added to a group later needs a restart, like a login shell.
// A peer the kernel's tables do not list is another host (only a non-loopback listener can
// be reached from one): refused unless `unlisted` (--allow-non-loopback) lets them in.
export interface PeerPolicy {
  allows(uid: number | undefined): boolean;
  describe(): string;
}

export interface AccountFiles {
  passwd: string;
  group: string;
}

export function readAccountFiles(paths = { passwd: '/etc/passwd', group: '/etc/group' }): AccountFiles {
  const read = (path: string): string => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return '';
    }
  };
  return { passwd: read(paths.passwd), group: read(paths.group) };
}

export function createPeerPolicy(
  options: { uids?: number[]; gids?: number[]; unlisted?: boolean; accounts?: AccountFiles } = {},
): PeerPolicy {
  const uids = new Set<number>([0, ...(options.uids ?? [])]);
  const gids = options.gids ?? [];
  if (gids.length > 0) {
    for (const uid of membersOf(new Set(gids), options.accounts ?? readAccountFiles())) uids.add(uid);
  }
  return {
    allows: (uid) => (uid === undefined ? options.unlisted === true : uids.has(uid)),
    describe: () => `uid ${[...uids].sort((a, b) => a - b).join(', ')}${options.unlisted ? ' and other hosts' : ''}`,
  };
}

// uids whose primary group, or whose user name in a group's member list, is one of `gids`.
export function membersOf(gids: Set<number>, files: AccountFiles): number[] {
  const uidByName = new Map<string, number>();
  const found = new Set<number>();
  for (const line of files.passwd.split('\n')) {
    const [name, , uid, gid] = line.split(':');
    if (!name || uid === undefined || gid === undefined || !/^\d+$/.test(uid)) continue;
    uidByName.set(name, Number(uid));
    if (gids.has(Number(gid))) found.add(Number(uid));
  }
  for (const line of files.group.split('\n')) {
    const [, , gid, members] = line.split(':');
    if (gid === undefined || !/^\d+$/.test(gid) || !gids.has(Number(gid)) || !members) continue;
    for (const member of members.split(',')) {
      const uid = uidByName.get(member.trim());
      if (uid !== undefined) found.add(uid);
    }
  }
  return [...found];
}
