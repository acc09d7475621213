import { execa } from 'execa';

// A link-local network of our own, all inside namespaces the test makes (nothing is added to
// the machine's own namespace, so its real metadata service, if any, is never shadowed):
// a "cloud" namespace whose bridge holds 169.254.169.254, where the metadata fixture and the
// service run, and one namespace per VM, each joined to the bridge by a veth pair.
export interface CloudNetwork {
  cloud: string;
  vms: string[];
  // Runs a command inside a namespace: ['ip', 'netns', 'exec', ns, ...command].
  inNamespace(ns: string, command: string[]): string[];
  remove(): Promise<void>;
}

export const METADATA_ADDRESS = '169.254.169.254';

export async function createCloudNetwork(vmCount: number): Promise<CloudNetwork> {
  const tag = `${process.pid % 100000}`;
  const cloud = `dcd-${tag}-cloud`;
  const vms = Array.from({ length: vmCount }, (_, i) => `dcd-${tag}-vm${i + 1}`);
  const created: string[] = [];
  const ip = (...args: string[]) => execa('ip', args);
  const network: CloudNetwork = {
    cloud,
    vms,
    inNamespace: (ns, command) => ['ip', 'netns', 'exec', ns, ...command],
    // Deleting a namespace deletes the interfaces inside it: only what was made here goes.
    remove: async () => {
      for (const ns of created.reverse()) await ip('netns', 'del', ns).catch(() => {});
    },
  };
  try {
    for (const ns of [cloud, ...vms]) {
      await ip('netns', 'add', ns);
      created.push(ns);
      await ip('-n', ns, 'link', 'set', 'lo', 'up');
    }
    await ip('-n', cloud, 'link', 'add', 'br0', 'type', 'bridge');
    await ip('-n', cloud, 'addr', 'add', `${METADATA_ADDRESS}/16`, 'dev', 'br0');
    await ip('-n', cloud, 'link', 'set', 'br0', 'up');
    for (const [index, vm] of vms.entries()) {
      await ip(
        'link',
        'add',
        'name',
        'eth0',
        'netns',
        vm,
        'type',
        'veth',
        'peer',
        'name',
        `vm${index + 1}`,
        'netns',
        cloud,
      );
      await ip('-n', cloud, 'link', 'set', `vm${index + 1}`, 'master', 'br0', 'up');
      await ip('-n', vm, 'addr', 'add', `169.254.10.${index + 1}/16`, 'dev', 'eth0');
      await ip('-n', vm, 'link', 'set', 'eth0', 'up');
    }
  } catch (error) {
    await network.remove();
    throw error;
  }
  return network;
}
