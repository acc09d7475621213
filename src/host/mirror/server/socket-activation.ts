// systemd socket activation (sd_listen_fds(3)): LISTEN_PID names this process and
// LISTEN_FDS counts the sockets passed from fd 3 on. The endpoint serves the first one.
export const SD_LISTEN_FDS_START = 3;

export function activatedSocketFd(env: Record<string, string | undefined>, pid: number): number | undefined {
  const fds = Number(env.LISTEN_FDS);
  if (!Number.isInteger(fds) || fds < 1) return undefined;
  // Without LISTEN_PID the variables may have been inherited from someone else's activation.
  if (env.LISTEN_PID === undefined || Number(env.LISTEN_PID) !== pid) return undefined;
  return SD_LISTEN_FDS_START;
}
