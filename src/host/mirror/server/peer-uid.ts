import { closeSync, openSync, read } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { endianness } from 'node:os';
import { isIPv4, isIPv6 } from 'node:net';

// A loopback TCP port is open to every local user; the kernel's socket tables say which uid
// owns the other end. /proc/net/tcp and /proc/net/tcp6 list every socket of this network
// namespace: `sl local rem st tx:rx tr:when retrnsmt uid timeout inode …`, addresses as hex
// words in host byte order, ports as big-endian hex, state 01 = ESTABLISHED. The client's
// socket is the one whose local address is our connection's remote one and whose remote
// address is our local one.

export interface ConnectionEnds {
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
}

export type ProcTables = { tcp: () => Promise<string>; tcp6: () => Promise<string> };

export const PROC_TABLES: ProcTables = {
  tcp: () => readFile('/proc/net/tcp', 'latin1'),
  tcp6: () => readFile('/proc/net/tcp6', 'latin1'),
};

// The tables read through descriptors opened once, at start: a process that has run out of
// descriptors (a local user holding hundreds of idle connections) must still be able to tell
// who is connecting, or it would refuse root too (issue 18, item 2). Reading a seq_file from
// offset 0 makes the kernel list the sockets afresh, so one descriptor serves every lookup. A
// table that cannot be opened now (no IPv6) is read by name, as before. Plain descriptors,
// not FileHandles: those may not be left to the garbage collector.
export function openProcTables(
  paths = { tcp: '/proc/net/tcp', tcp6: '/proc/net/tcp6' },
): ProcTables & { close(): void } {
  const fds: number[] = [];
  const held = (path: string): (() => Promise<string>) => {
    try {
      const fd = openSync(path, 'r');
      fds.push(fd);
      return rereader(fd);
    } catch {
      return () => readFile(path, 'latin1');
    }
  };
  return {
    tcp: held(paths.tcp),
    tcp6: held(paths.tcp6),
    close: () => {
      for (const fd of fds.splice(0)) closeSync(fd);
    },
  };
}

const readAt = promisify(read);

// Whole-file reads of `fd` from offset 0, one at a time (two reads' positions on one seq_file
// would interleave).
function rereader(fd: number): () => Promise<string> {
  const buffer = Buffer.alloc(64 * 1024);
  let last: Promise<unknown> = Promise.resolve();
  const readAll = async (): Promise<string> => {
    const chunks: Buffer[] = [];
    for (let position = 0; ; ) {
      const { bytesRead } = await readAt(fd, buffer, 0, buffer.length, position);
      if (bytesRead === 0) return Buffer.concat(chunks).toString('latin1');
      chunks.push(Buffer.from(buffer.subarray(0, bytesRead)));
      position += bytesRead;
    }
  };
  return () => {
    const next = last.then(readAll, readAll);
    last = next.catch(() => undefined);
    return next;
  };
}

// The uid of the process at the other end of a loopback connection, or undefined when the
// kernel lists no such socket (it closed meanwhile, or it lives in another namespace).
export async function peerUid(
  ends: ConnectionEnds,
  tables: ProcTables = PROC_TABLES,
  littleEndian = endianness() === 'LE',
): Promise<number | undefined> {
  const need = tablesFor(ends);
  const tcp6 = need.v6 ? await tables.tcp6() : '';
  const uid = uidIn(ends, need.v4 ? await tables.tcp() : '', tcp6, littleEndian);
  return uid === undefined && need.v4 && !need.v6 ? uidIn(ends, '', await tables.tcp6(), littleEndian) : uid;
}

// Reading a table costs the kernel a walk of its whole established-connection hash (about
// 3 ms for 262 144 buckets on a 24 GB machine), whatever the number of sockets: lookups that
// wait together share one read. A read starts only after every lookup it serves was queued,
// and each is queued after its connection was accepted, so the snapshot holds its socket.
export function createPeerUidLookup(
  tables: ProcTables = PROC_TABLES,
  littleEndian = endianness() === 'LE',
): (ends: ConnectionEnds) => Promise<number | undefined> {
  let queue: Array<{
    ends: ConnectionEnds;
    resolve: (uid: number | undefined) => void;
    reject: (error: unknown) => void;
  }> = [];
  let reading = false;
  async function drain(): Promise<void> {
    while (queue.length > 0) {
      const batch = queue;
      queue = [];
      const v4 = batch.some((item) => tablesFor(item.ends).v4);
      const v6 = batch.some((item) => tablesFor(item.ends).v6);
      try {
        const [tcp, tcp6] = await Promise.all([v4 ? tables.tcp() : '', v6 ? tables.tcp6() : '']);
        const uids = batch.map((item) => uidIn(item.ends, tcp, tcp6, littleEndian));
        // tcp6 is read late, only for v4 ends tcp did not list (an AF_INET6 client on a mapped address).
        if (!v6 && uids.some((uid) => uid === undefined)) {
          const late6 = await tables.tcp6();
          batch.forEach((item, i) => {
            uids[i] ??= uidIn(item.ends, '', late6, littleEndian);
          });
        }
        batch.forEach((item, i) => {
          item.resolve(uids[i]);
        });
      } catch (error) {
        for (const item of batch) item.reject(error);
      }
    }
    reading = false;
  }
  return (ends) =>
    new Promise((resolve, reject) => {
      queue.push({ ends, resolve, reject });
      if (reading) return;
      // Connections accepted in the same turn of the event loop wait for one read together.
      reading = true;
      setImmediate(() => void drain());
    });
}

function tablesFor(ends: ConnectionEnds): { v4: boolean; v6: boolean } {
  return {
    v4: isIPv4(unmapped(ends.remoteAddress)) && isIPv4(unmapped(ends.localAddress)),
    v6: isIPv6(ends.remoteAddress) && isIPv6(ends.localAddress),
  };
}

function uidIn(ends: ConnectionEnds, tcp: string, tcp6: string, littleEndian: boolean): number | undefined {
  const remote = unmapped(ends.remoteAddress);
  const local = unmapped(ends.localAddress);
  if (tcp !== '' && isIPv4(remote) && isIPv4(local)) {
    const uid = findUid(
      tcp,
      procAddress(remote, ends.remotePort, littleEndian),
      procAddress(local, ends.localPort, littleEndian),
    );
    if (uid !== undefined) return uid;
  }
  // An IPv6 client, or an AF_INET6 client socket connected to a v4-mapped address: the kernel
  // lists that socket in tcp6 (as ::ffff:a.b.c.d) even when our listener is a plain v4 one.
  if (tcp6 === '') return undefined;
  const v6 = (ip: string): string => (isIPv4(ip) ? `::ffff:${ip}` : ip);
  if (isIPv6(v6(ends.remoteAddress)) && isIPv6(v6(ends.localAddress))) {
    return findUid(
      tcp6,
      procAddress(v6(ends.remoteAddress), ends.remotePort, littleEndian),
      procAddress(v6(ends.localAddress), ends.localPort, littleEndian),
    );
  }
  return undefined;
}

// The uid column of the ESTABLISHED socket with these local and remote addresses.
export function findUid(table: string, localHex: string, remoteHex: string): number | undefined {
  const needle = ` ${localHex} ${remoteHex} 01 `;
  const at = table.indexOf(needle);
  if (at === -1) return undefined;
  const end = table.indexOf('\n', at);
  const fields = table
    .slice(at + needle.length, end === -1 ? undefined : end)
    .trim()
    .split(/\s+/);
  // after `st`: tx_queue:rx_queue, tr:tm->when, retrnsmt, uid
  const uid = Number(fields[3]);
  return Number.isSafeInteger(uid) && uid >= 0 ? uid : undefined;
}

// `ADDR:PORT` as /proc/net/tcp{,6} prints it.
export function procAddress(ip: string, port: number, littleEndian: boolean): string {
  const bytes = isIPv4(ip) ? ipv4Bytes(ip) : ipv6Bytes(ip);
  let hex = '';
  for (let word = 0; word < bytes.length; word += 4) {
    const group = bytes.slice(word, word + 4);
    if (littleEndian) group.reverse();
    for (const byte of group) hex += byte.toString(16).padStart(2, '0');
  }
  return `${hex.toUpperCase()}:${port.toString(16).toUpperCase().padStart(4, '0')}`;
}

function unmapped(ip: string): string {
  const match = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return match ? match[1]! : ip;
}

function ipv4Bytes(ip: string): number[] {
  return ip.split('.').map(Number);
}

function ipv6Bytes(ip: string): number[] {
  let text = ip.replace(/%.*$/, '');
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = ipv4Bytes(v4[1]!);
    text = `${text.slice(0, -v4[1]!.length)}${((a! << 8) | b!).toString(16)}:${((c! << 8) | d!).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? (text.split('::') as [string, string]) : [text, undefined];
  const headWords = head === '' ? [] : head.split(':');
  const tailWords = tail === undefined || tail === '' ? [] : tail.split(':');
  const words =
    tail === undefined
      ? headWords
      : [...headWords, ...Array<string>(8 - headWords.length - tailWords.length).fill('0'), ...tailWords];
  return words.flatMap((word) => {
    const value = parseInt(word, 16);
    return [(value >> 8) & 0xff, value & 0xff];
  });
}
