import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  createPeerUidLookup,
  findUid,
  openProcTables,
  peerUid,
  procAddress,
  PROC_TABLES,
} from '../../../src/host/mirror/server/peer-uid.ts';
import { createPeerPolicy, membersOf } from '../../../src/host/mirror/server/peer-policy.ts';

// Real /proc/net/tcp and tcp6 text (x86-64, little-endian): a listener on 127.0.0.1:8484, a
// client 127.0.0.1:50000 of uid 1000 connected to it, and the server's side of that
// connection (uid 0); the same over ::1 in tcp6.
const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:2124 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 635 1 00000000d29b8a44 100 0 0 10 0
   1: 0100007F:C350 0100007F:2124 01 00000000:00000000 00:00000000 00000000  1000        0 54049 1 00000000f3787e62 20 4 30 10 -1
   2: 0100007F:2124 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 54050 1 00000000a88382f8 20 4 30 10 -1
   3: 0100007F:C351 0100007F:2124 06 00000000:00000000 03:00000ADE 00000000  1001        0 0 3 00000000557de89d
`;
const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:2124 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 711 1 0000000011111111 100 0 0 10 0
   1: 00000000000000000000000001000000:D431 00000000000000000000000001000000:2124 01 00000000:00000000 00:00000000 00000000   998        0 712 1 0000000022222222 20 4 30 10 -1
   2: 0000000000000000FFFF00000100007F:D432 0000000000000000FFFF00000100007F:2124 01 00000000:00000000 00:00000000 00000000   997        0 713 1 0000000033333333 20 4 30 10 -1
`;
const tables = { tcp: async () => TCP, tcp6: async () => TCP6 };

describe('procAddress', () => {
  it('prints addresses as /proc/net/tcp{,6} do on a little-endian host', () => {
    expect(procAddress('127.0.0.1', 8484, true)).toBe('0100007F:2124');
    expect(procAddress('10.1.2.3', 80, true)).toBe('0302010A:0050');
    expect(procAddress('::1', 8484, true)).toBe('00000000000000000000000001000000:2124');
    expect(procAddress('::ffff:127.0.0.1', 8484, true)).toBe('0000000000000000FFFF00000100007F:2124');
    expect(procAddress('fe80::1:2', 1, true)).toBe('000080FE000000000000000002000100:0001');
  });

  it('and on a big-endian one', () => {
    expect(procAddress('127.0.0.1', 8484, false)).toBe('7F000001:2124');
    expect(procAddress('::1', 8484, false)).toBe('00000000000000000000000000000001:2124');
  });
});

describe('peerUid from the socket tables', () => {
  const ends = (remotePort: number, remoteAddress = '127.0.0.1', localAddress = '127.0.0.1') => ({
    localAddress,
    localPort: 8484,
    remoteAddress,
    remotePort,
  });

  it('finds the client socket (local = our remote, remote = our local, ESTABLISHED) and reads its uid column', async () => {
    expect(await peerUid(ends(50000), tables, true)).toBe(1000);
  });

  it('ignores sockets in other states and sockets it cannot find', async () => {
    expect(await peerUid(ends(50001), tables, true)).toBeUndefined(); // TIME_WAIT (06)
    expect(await peerUid(ends(50002), tables, true)).toBeUndefined();
  });

  it('IPv6 clients, and v4-mapped clients of a dual-stack listener', async () => {
    expect(await peerUid(ends(0xd431, '::1', '::1'), tables, true)).toBe(998);
    // an AF_INET client seen as ::ffff:127.0.0.1 is in tcp; an AF_INET6 one on a mapped address in tcp6
    expect(await peerUid(ends(50000, '::ffff:127.0.0.1', '::ffff:127.0.0.1'), tables, true)).toBe(1000);
    expect(await peerUid(ends(0xd432, '::ffff:127.0.0.1', '::ffff:127.0.0.1'), tables, true)).toBe(997);
  });

  it('findUid reads only whole addresses', () => {
    expect(findUid(TCP, '0100007F:C350', '0100007F:2124')).toBe(1000);
    expect(findUid(TCP, '100007F:C350', '0100007F:2124')).toBeUndefined();
  });

  it('on this machine: a real loopback connection is ours; prints the cost per lookup', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const accepted: Socket[] = [];
    server.on('connection', (socket) => accepted.push(socket));
    const clients: Socket[] = [];
    try {
      for (let i = 0; i < 50; i++) {
        clients.push(
          await new Promise<Socket>((resolve) => {
            const c = connect(port, '127.0.0.1', () => resolve(c));
          }),
        );
      }
      while (accepted.length < clients.length) await new Promise((resolve) => setTimeout(resolve, 5));
      const endsOf = (socket: Socket) => ({
        localAddress: socket.localAddress!,
        localPort: socket.localPort!,
        remoteAddress: socket.remoteAddress!,
        remotePort: socket.remotePort!,
      });
      const cpu = process.cpuUsage();
      let started = process.hrtime.bigint();
      const uids = [];
      for (const socket of accepted) uids.push(await peerUid(endsOf(socket), PROC_TABLES));
      const perLookupUs = Number(process.hrtime.bigint() - started) / 1000 / accepted.length;
      const used = process.cpuUsage(cpu);
      expect(uids).toEqual(accepted.map(() => process.getuid!()));
      // Connections that arrive together share one read of the table.
      let reads = 0;
      const counted = {
        tcp: () => {
          reads++;
          return PROC_TABLES.tcp();
        },
        tcp6: () => {
          reads++;
          return PROC_TABLES.tcp6();
        },
      };
      const lookup = createPeerUidLookup(counted);
      started = process.hrtime.bigint();
      const together = await Promise.all(accepted.map((socket) => lookup(endsOf(socket))));
      const togetherUs = Number(process.hrtime.bigint() - started) / 1000;
      expect(together).toEqual(uids);
      expect(reads).toBeLessThanOrEqual(2);
      const lines = (await PROC_TABLES.tcp()).split('\n').length;
      console.log(
        `peer uid lookup, one connection at a time: ${perLookupUs.toFixed(0)} µs wall, ${((used.user + used.system) / accepted.length).toFixed(0)} µs CPU (${(used.system / accepted.length).toFixed(0)} µs of it kernel) per connection (/proc/net/tcp with ${lines} lines); ${accepted.length} connections at once: ${togetherUs.toFixed(0)} µs in ${reads} read(s)`,
      );
    } finally {
      for (const c of clients) c.destroy();
      server.close();
    }
  });

  it.each(['127.0.0.1', '::'])(
    'on this machine: an AF_INET6 client on ::ffff:127.0.0.1 against a listener on %s is found (it is listed in tcp6 only)',
    async (host) => {
      const server = createServer();
      await new Promise<void>((resolve) => server.listen(0, host, resolve));
      const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
      const client = connect({ host: '::ffff:127.0.0.1', port: (server.address() as AddressInfo).port, family: 6 });
      try {
        await new Promise<void>((resolve, reject) => client.once('connect', resolve).once('error', reject));
        expect(client.localAddress).toBe('::ffff:127.0.0.1');
        const socket = await accepted;
        const ends = {
          localAddress: socket.localAddress!,
          localPort: socket.localPort!,
          remoteAddress: socket.remoteAddress!,
          remotePort: socket.remotePort!,
        };
        expect(await peerUid(ends, PROC_TABLES)).toBe(process.getuid!());
        expect(await createPeerUidLookup()(ends)).toBe(process.getuid!());
        socket.destroy();
      } finally {
        client.destroy();
        server.close();
      }
    },
  );

  it('on this machine: tables opened once list connections made after they were opened, read after read', async () => {
    const tables = openProcTables();
    const lookup = createPeerUidLookup(tables);
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const clients: Socket[] = [];
    try {
      for (let round = 0; round < 3; round++) {
        const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
        const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
        clients.push(client);
        const socket = await accepted;
        const ends = {
          localAddress: socket.localAddress!,
          localPort: socket.localPort!,
          remoteAddress: socket.remoteAddress!,
          remotePort: socket.remotePort!,
        };
        expect(await lookup(ends)).toBe(process.getuid!());
      }
    } finally {
      tables.close();
      for (const c of clients) c.destroy();
      server.close();
    }
  });

  it('a plain v4 connection whose client socket is AF_INET6 (listed in tcp6 with mapped addresses)', async () => {
    expect(await peerUid(ends(0xd432), tables, true)).toBe(997);
    expect(await createPeerUidLookup(tables, true)(ends(0xd432))).toBe(997);
  });

  it('prints the cost with a busy table (10 000 sockets)', async () => {
    const rows = Array.from(
      { length: 10_000 },
      (_, i) =>
        `${String(i + 4).padStart(4)}: 0100007F:${(10_000 + i).toString(16).toUpperCase().padStart(4, '0')} 0100007F:1F90 01 00000000:00000000 00:00000000 00000000   100        0 ${90_000 + i} 1 0000000000000000 20 4 30 10 -1`,
    );
    const big = `${TCP + rows.join('\n')}\n`;
    const started = process.hrtime.bigint();
    for (let i = 0; i < 100; i++)
      expect(findUid(big, procAddress('127.0.0.1', 10_000 + 9_999, true), procAddress('127.0.0.1', 8080, true))).toBe(
        100,
      );
    console.log(
      `peer uid search of a 10 000-socket table: ${(Number(process.hrtime.bigint() - started) / 1000 / 100).toFixed(1)} µs (without reading it)`,
    );
  });
});

describe('createPeerUidLookup', () => {
  it('serves lookups queued together from one read, and reads again for later ones', async () => {
    let reads = 0;
    const lookup = createPeerUidLookup(
      {
        tcp: async () => {
          reads++;
          return TCP;
        },
        tcp6: async () => {
          reads++;
          return TCP6;
        },
      },
      true,
    );
    const ends = (remotePort: number) => ({
      localAddress: '127.0.0.1',
      localPort: 8484,
      remoteAddress: '127.0.0.1',
      remotePort,
    });
    expect(await Promise.all([lookup(ends(50000)), lookup(ends(50000))])).toEqual([1000, 1000]);
    expect(reads).toBe(1);
    // a v4 socket tcp does not list is looked for in tcp6 too (an AF_INET6 client), once per batch
    expect(await Promise.all([lookup(ends(50000)), lookup(ends(50001)), lookup(ends(50002))])).toEqual([
      1000,
      undefined,
      undefined,
    ]);
    expect(reads).toBe(3);
  });

  it('a failed read fails its batch only', async () => {
    let fail = true;
    const lookup = createPeerUidLookup(
      {
        tcp: async () => {
          if (fail) {
            fail = false;
            throw new Error('EACCES');
          }
          return TCP;
        },
        tcp6: async () => TCP6,
      },
      true,
    );
    const ends = { localAddress: '127.0.0.1', localPort: 8484, remoteAddress: '127.0.0.1', remotePort: 50000 };
    await expect(lookup(ends)).rejects.toThrow('EACCES');
    expect(await lookup(ends)).toBe(1000);
  });
});

describe('peer policy', () => {
  const passwd =
    'root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/sh\nbob:x:1001:100::/home/bob:/bin/sh\ncarol:x:1002:1002::/home/carol:/bin/sh\n';
  const group = 'root:x:0:\nusers:x:100:\npodman:x:2000:alice,carol\nalice:x:1000:\n';

  it('uid 0 always; --allow-uid adds uids', () => {
    const policy = createPeerPolicy({ uids: [1001], accounts: { passwd, group } });
    expect([0, 1000, 1001].map((uid) => policy.allows(uid))).toEqual([true, false, true]);
    expect(policy.describe()).toBe('uid 0, 1001');
    expect(policy.allows(undefined)).toBe(false);
  });

  it('--allow-gid adds the members of a group (supplementary) and those whose primary group it is', () => {
    expect(membersOf(new Set([2000]), { passwd, group }).sort()).toEqual([1000, 1002]);
    expect(membersOf(new Set([100]), { passwd, group })).toEqual([1001]);
    const policy = createPeerPolicy({ gids: [2000], accounts: { passwd, group } });
    expect([0, 1000, 1001, 1002].map((uid) => policy.allows(uid))).toEqual([true, true, false, true]);
  });

  it('a peer the kernel does not list (another host) only with --allow-non-loopback', () => {
    const policy = createPeerPolicy({ unlisted: true });
    expect([policy.allows(undefined), policy.allows(0), policy.allows(1000)]).toEqual([true, true, false]);
    expect(policy.describe()).toBe('uid 0 and other hosts');
  });
});
