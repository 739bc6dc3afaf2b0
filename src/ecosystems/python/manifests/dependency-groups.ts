/**
 * PEP 735 `[dependency-groups]` of a pyproject.toml (with `{ include-group = "..." }` expanded) and uv's legacy
 * `[tool.uv] dev-dependencies` (the `dev` group), as uv records them in uv.lock's `requires-dev`. Pure.
 */
import { parse as parseToml } from 'smol-toml';
import { inputError } from '../../../core/errors.js';
import { normalizeName } from '../pep/names.js';
import { parseRequirement, type Requirement } from '../pep/requirement.js';
import type { PythonRequirement } from './requirements.js';

type Table = Record<string, unknown>;
const isTable = (v: unknown): v is Table => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);

function bad(file: string, what: string): never {
  throw inputError('manifest.pyproject.invalid', `${file}: ${what}`, { hint: 'see https://packaging.python.org/en/latest/specifications/dependency-groups/' });
}

/** Group name (normalised) → its requirements. The text must already be valid TOML (parsePyproject checked it). */
export function readDependencyGroups(text: string, file: string): Record<string, Requirement[]> {
  const doc = parseToml(text) as Table;
  const raw = isTable(doc['dependency-groups']) ? doc['dependency-groups'] : {};
  const groups = new Map(Object.entries(raw).map(([k, v]) => [normalizeName(k), v]));
  const out: Record<string, Requirement[]> = {};
  const expand = (name: string, stack: string[]): Requirement[] => {
    if (stack.includes(name)) bad(file, `dependency group "${name}" includes itself (${[...stack, name].join(' > ')})`);
    const items = groups.get(name);
    if (!Array.isArray(items)) bad(file, `dependency group "${name}" ${items === undefined ? 'does not exist' : 'must be an array'}`);
    return items.flatMap((item): Requirement[] => {
      if (typeof item === 'string') {
        try {
          return [parseRequirement(item)];
        } catch (err) {
          return bad(file, `dependency group "${name}": invalid requirement "${item}": ${(err as Error).message}`);
        }
      }
      if (isTable(item) && typeof item['include-group'] === 'string') return expand(normalizeName(item['include-group']), [...stack, name]);
      return bad(file, `dependency group "${name}" holds an entry that is neither a requirement string nor { include-group = "..." }`);
    });
  };
  for (const name of groups.keys()) out[name] = expand(name, []);
  const tool = isTable(doc.tool) ? doc.tool : {};
  const uv = isTable(tool.uv) ? tool.uv : {};
  if (Array.isArray(uv['dev-dependencies'])) {
    const legacy = uv['dev-dependencies'].filter((x): x is string => typeof x === 'string').map((x) => parseRequirement(x));
    out.dev = [...(out.dev ?? []), ...legacy];
  }
  return out;
}

/**
 * The requirements of the named groups (`python.pyproject.groups` of a project without [tool.poetry]), in the
 * order named. Throws `manifest.pyproject.unknown-group` (exit 2) naming the groups the file has.
 */
export function selectDependencyGroups(text: string, file: string, names: readonly string[]): PythonRequirement[] {
  const groups = readDependencyGroups(text, file);
  return names.flatMap((name) => {
    const reqs = groups[normalizeName(name)];
    if (!reqs) {
      const known = Object.keys(groups).sort();
      throw inputError('manifest.pyproject.unknown-group', `${file}: no dependency group "${name}" (it has: ${known.join(', ') || 'none'})`, {
        hint: 'use one of those groups in python.pyproject.groups, or add the group under [dependency-groups] (PEP 735)',
      });
    }
    return reqs.map((requirement) => ({ requirement, hashes: [], source: { file, line: 0 } }));
  });
}
