// dstack's rewrite of a run's `image:` when the server has DSTACK_SERVER_DEFAULT_DOCKER_REGISTRY
// (`apply_server_docker_defaults`, dstack server/services/docker.py): an image whose first
// path component names no registry gets `<registry>/` in front, and nothing else (no
// `library/`); one that names a registry (`docker.io/…`, `ghcr.io/…`, `localhost:5000/…`) is
// left alone. A first component names a registry when it contains '.' or ':' or is
// 'localhost', as in Docker's reference grammar. Tests use this so the names under test are
// the ones dstack makes.
export function dstackRewrite(image: string, registry: string): string {
  const slash = image.indexOf('/');
  const first = slash === -1 ? '' : image.slice(0, slash);
  const named = first.includes('.') || first.includes(':') || first === 'localhost';
  return named ? image : `${registry}/${image}`;
}

// The rewritten reference split the way the shim's Engine API call takes it
// (`fromImage=<name>&tag=<tag>`): the tag after the last ':' past the last '/', `latest`
// when there is none (the shim appends `:latest` to a name without any ':'; the Go client
// sends `tag=latest`), or the digest after '@'.
export function fromImageAndTag(reference: string): { fromImage: string; tag: string } {
  const at = reference.indexOf('@');
  if (at !== -1) return { fromImage: reference.slice(0, at), tag: reference.slice(at + 1) };
  const colon = reference.lastIndexOf(':');
  if (colon > reference.lastIndexOf('/'))
    return { fromImage: reference.slice(0, colon), tag: reference.slice(colon + 1) };
  return { fromImage: reference, tag: 'latest' };
}
