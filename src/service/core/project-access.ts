// Whether a registry is open to a project ('*' opens it to all). One rule for the credential
// endpoint, host-config and the realm.
export function projectMayUse(projects: readonly string[], project: string): boolean {
  return projects.includes('*') || projects.includes(project);
}
