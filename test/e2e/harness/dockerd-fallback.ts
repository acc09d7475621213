// The line dockerd logs when it leaves a mirror for the next host (in the end Docker Hub),
// which differs by image store:
// - classic store: `Attempting next endpoint for pull after error: …` (the mirror's error in it);
// - containerd store: containerd's resolver, one line per host it leaves, with a `host=` field:
//   `trying next host after status: 404 Not Found` (dockerd 28.5, containerd 2.x),
//   `trying next host - response was http.StatusNotFound` (dockerd 26.1, containerd 1.7),
//   `trying next host` with `error=…` when the host did not answer; `fetch failed` on the last.
// A check that a pull did not fall back must match both, or it passes on a containerd-store
// host that went to Docker Hub.
export const CLASSIC_STORE_FALLBACK = /Attempting next endpoint for pull after error/;
export const CONTAINERD_STORE_FALLBACK = /msg="trying next host(?: after status: | - response was |")/;
export const DOCKERD_FALLBACK = new RegExp(`${CLASSIC_STORE_FALLBACK.source}|${CONTAINERD_STORE_FALLBACK.source}`);
