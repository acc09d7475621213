// The one test of "is this a PostgreSQL connection URL", for the config check at start-up
// and the store that opens it.
export function isPostgresUrl(url: string): boolean {
  return /^postgres(?:ql)?:\/\//i.test(url.trim());
}
