import type { Route } from '../service-deps.ts';
import { authenticateInstance } from '../authenticate-instance.ts';
import { projectMayUse } from '../../core/project-access.ts';
import { sendJson } from '../http-io.ts';

// GET /v1/host-config: what `configure` writes on a runner host, limited to the registries
// the instance's project may use: engine mirrors, and the keys to name the helper for.
export const hostConfigRoute: Route = async (req, res, deps) => {
  const identity = await authenticateInstance(req, deps);
  const usable = deps.config.registries.filter((entry) => projectMayUse(entry.projects, identity.project));
  const mirrors = unique(usable.flatMap((entry) => (entry.mirrorUrl ? [entry.mirrorUrl] : [])));
  const registries = unique(usable.flatMap((entry) => [...entry.aliases, entry.key]));
  sendJson(res, 200, { mirrors, registries });
};

function unique(values: string[]): string[] {
  return [...new Set(values)];
}
