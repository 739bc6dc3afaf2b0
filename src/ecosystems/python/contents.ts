/** verify for the python wing: the distributions installed in the image's site directories vs the lock. */
import type { TargetName } from '../../core/image-contract.js';
import type { ContentsCheck } from '../types.js';
import type { PythonSection } from './schema.js';

interface ObservedPython {
  /** Site directories the locked packages are installed into (purelib, platlib). */
  siteDirs: string[];
  dists: { name: string; version: string; location: string }[];
}

const CONTENTS_PY = String.raw`
import json, sysconfig
from importlib import metadata
paths = sysconfig.get_paths()
dists = []
for d in metadata.distributions():
    try:
        loc = str(d.locate_file(""))
    except Exception:
        loc = ""
    dists.append({"name": d.metadata["Name"] or "", "version": d.version or "", "location": loc})
print(json.dumps({"siteDirs": sorted({paths["purelib"], paths["platlib"]}), "dists": dists}))
`;

/** Bootstrap tools a venv brings with it (ensurepip); not reported as extra unless the lock pins them. */
const VENV_BOOTSTRAP = new Set(['pip', 'setuptools', 'wheel']);

export const pythonContents: ContentsCheck<PythonSection> = {
  script(py) {
    const python = py.venv ? `${py.venv}/bin/python` : py.interpreter;
    return `${python} -c '${CONTENTS_PY.replace(/'/g, `'\\''`)}'`;
  },
  compare(py, target, observed) {
    const line = observed?.split('\n').find((l) => l.startsWith('{'));
    return comparePython(py, target, line ? (JSON.parse(line) as ObservedPython) : null);
  },
};

function comparePython(py: PythonSection, target: TargetName, observed: ObservedPython | null): string[] {
  const locked = new Map(py.packages.filter((p) => p.targets.includes(target)).map((p) => [p.name, p.version]));
  const missing: string[] = [];
  const different: string[] = [];
  const extra: string[] = [];
  if (observed) {
    const seen = new Map<string, string>();
    for (const d of observed.dists.filter((x) => observed.siteDirs.some((s) => sameDir(x.location, s)))) seen.set(normalizeDistName(d.name), d.version);
    for (const [name, version] of locked) {
      const have = seen.get(name);
      if (have === undefined) missing.push(`${name}==${version}`);
      else if (have !== version) different.push(`${name}: locked ${version}, installed ${have}`);
    }
    for (const [name, version] of seen) if (!locked.has(name) && !VENV_BOOTSTRAP.has(name)) extra.push(`${name}==${version}`);
  } else {
    missing.push(...[...locked].map(([n, v]) => `${n}==${v}`));
  }
  return [
    ...missing.sort().map((m) => `python: missing ${m}`),
    ...different.sort().map((d) => `python: ${d}`),
    ...extra.sort().map((e) => `python: not in the lock: ${e}`),
  ];
}

function normalizeDistName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

function sameDir(a: string, b: string): boolean {
  return a.replace(/\/+$/, '') === b.replace(/\/+$/, '');
}
