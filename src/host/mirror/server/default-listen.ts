// Where `docker-credential-dstack mirror` listens unless told otherwise. Host setup imports
// it to point the engines (daemon.json registry-mirrors, containerd hosts.toml, podman's
// registries.conf) and the systemd socket unit at the same address.
export const DEFAULT_MIRROR_LISTEN = '127.0.0.1:8484';

// How long a socket-activated endpoint stays up with no connection open.
export const DEFAULT_ACTIVATED_IDLE_EXIT = '10m';
