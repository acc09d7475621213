import { readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SRC, sourceFiles } from '../helpers/source-files.ts';

// The floor plan (README "Layout"): the two halves never import each other, the shared rooms
// import neither half, and inside a half only commands/ (and src/bin) import commands/.

// Every relative specifier of a static import, a re-export or a dynamic import().
function importsOf(text: string): string[] {
  const found: string[] = [];
  for (const match of text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(['"])(\.{1,2}\/[^'"]+)\1/g))
    found.push(match[2]!);
  return found;
}

// The room of a file under src/: 'host', 'service', 'common', 'registry', 'contract', 'bin'.
function roomOf(file: string): string {
  return relative(SRC, file).split('/')[0]!;
}

function isCommand(file: string): boolean {
  return /^(host|service)\/commands\//.test(relative(SRC, file));
}

// The rooms inside host/setup and host/mirror (docs/architecture.md): each may import, of its
// siblings and its parent, only the rooms listed; the parent (plan/apply, the mirror's wiring)
// imports them all. So the text formats and the engine probes stand alone, the engines' file
// edits build on the formats, and the endpoint's server sits on forwarding, forwarding on the
// upstream client.
const INNER_ROOMS: Record<string, string[]> = {
  'host/setup/formats': [],
  'host/setup/engines': [],
  'host/setup/engine-files': ['host/setup/formats', 'host/setup/engines'],
  'host/setup/journal': ['host/setup/formats', 'host/setup/engine-files'],
  'host/mirror/upstream': [],
  'host/mirror/forwarding': ['host/mirror/upstream'],
  'host/mirror/server': ['host/mirror/forwarding', 'host/mirror/upstream'],
};

// `host/setup/formats/json-text.ts` → 'host/setup/formats'; `host/setup/x.ts` → 'host/setup'.
function innerRoomOf(file: string): string {
  const parts = relative(SRC, file).split('/');
  const inner = parts.slice(0, 3).join('/');
  if (inner in INNER_ROOMS) return inner;
  return parts.slice(0, 2).join('/');
}

function innerViolations(): string[] {
  const found: string[] = [];
  for (const file of sourceFiles(SRC)) {
    const from = innerRoomOf(file);
    const allowed = INNER_ROOMS[from];
    if (allowed === undefined) continue;
    const parent = from.split('/').slice(0, 2).join('/');
    for (const spec of importsOf(readFileSync(file, 'utf8'))) {
      const target = resolve(dirname(file), spec);
      const to = innerRoomOf(target);
      if (to === from || !(to === parent || to.startsWith(`${parent}/`))) continue;
      if (!allowed.includes(to))
        found.push(
          `${relative(SRC, file)} imports ${relative(SRC, target)}: ${from} imports ${allowed.length > 0 ? `only ${allowed.join(', ')}` : 'nothing'} of ${parent}`,
        );
    }
  }
  return found;
}

function violations(): string[] {
  const found: string[] = [];
  for (const file of sourceFiles(SRC)) {
    const from = roomOf(file);
    for (const spec of importsOf(readFileSync(file, 'utf8'))) {
      const target = resolve(dirname(file), spec);
      const to = roomOf(target);
      const where = `${relative(SRC, file)} imports ${relative(SRC, target)}`;
      if ((from === 'host' && to === 'service') || (from === 'service' && to === 'host'))
        found.push(`${where}: the halves never import each other`);
      if (['common', 'registry', 'contract'].includes(from) && ['host', 'service', 'bin'].includes(to))
        found.push(`${where}: shared rooms import neither half`);
      if (from !== 'bin' && isCommand(target) && !isCommand(file))
        found.push(`${where}: core code does not import its commands/`);
    }
  }
  return found;
}

describe('the floor plan', () => {
  it('finds the imports it checks (static, re-export, dynamic)', () => {
    expect(
      importsOf(
        `import a from './a.ts';\nexport { b } from "../b.ts";\nconst c = await import('./c/d.ts');\nimport './side.ts';\nimport x from 'node:fs';`,
      ),
    ).toEqual(['./a.ts', '../b.ts', './c/d.ts', './side.ts']);
  });

  it('every room of src/ is one the plan names', () => {
    const rooms = new Set(sourceFiles(SRC).map(roomOf));
    expect([...rooms].sort()).toEqual(
      ['bin', 'common', 'contract', 'host', 'registry', 'service'].filter((room) => rooms.has(room)),
    );
    expect(rooms.has('host') && rooms.has('service')).toBe(true);
  });

  it('the rooms of host/setup and host/mirror import only inward', () => {
    expect(innerViolations()).toEqual([]);
  });

  it('no import crosses a wall', () => {
    expect(violations()).toEqual([]);
  });
});
