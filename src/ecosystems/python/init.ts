/**
 * `envseal init` for the python wing: a PEP 751 pylock.toml, uv.lock, poetry.lock or Pipfile.lock when there is one (followed pin for pin), else
 * requirements*.txt (dev ones by name), pyproject.toml and a conda environment.yml.
 */
import type { InitFindings } from '../types.js';

const list = (items: string[]) => `[${items.map((i) => JSON.stringify(i)).join(', ')}]`;

const NOT_READ: [RegExp, string][] = [
  [
    /^(uv\.lock|pylock(\.[^.]+)?\.toml|poetry\.lock|Pipfile\.lock)$/,
    'a Python lock: name it in python.lockfile to follow its pins (otherwise `lock` would resolve again instead)',
  ],
  [/^Pipfile$/, 'Pipenv manifest: read only to check Pipfile.lock against it (name Pipfile.lock in python.lockfile)'],
  [/^(setup\.py|setup\.cfg)$/, 'setuptools metadata: envseal reads dependencies from pyproject.toml [project] and requirements files only'],
];

const CONDA_ENV = /^(environment|conda)\.ya?ml$/;

function notRead(files: readonly string[]): { file: string; why: string }[] {
  const [conda, ...otherConda] = files.filter((f) => CONDA_ENV.test(f));
  return [
    ...files.flatMap((file) => NOT_READ.filter(([re]) => re.test(file)).map(([, why]) => ({ file, why }))),
    ...otherConda.map((file) => ({ file, why: `a second conda environment: the spec reads ${conda}` })),
  ];
}

/** The lock init follows: `pylock.toml`, else the first named one (`pylock.<name>.toml`), else `uv.lock`, `poetry.lock`, `Pipfile.lock`. */
function lockfileOf(files: readonly string[]): string | undefined {
  const found = files.filter((f) => /^pylock(\.[^.]+)?\.toml$/.test(f)).sort();
  if (found.length) return found.includes('pylock.toml') ? 'pylock.toml' : found[0];
  return ['uv.lock', 'poetry.lock', 'Pipfile.lock'].find((f) => files.includes(f));
}

export function initPython(files: readonly string[]): InitFindings {
  const lockfile = lockfileOf(files);
  const findings = lockfile ? initImported(files, lockfile) : initPythonFiles(files);
  // The lock the spec will follow stays in `unused`: `lock` refuses it while a spec does not read it.
  const unused = notRead(files);
  const conda = files.find((f) => CONDA_ENV.test(f));
  const mustRead = conda ? [{ file: conda, why: 'a conda environment: name it as `python.environment` in envseal.yaml (its pip: section is locked)' }] : [];
  return { ...findings, ...(unused.length ? { unused } : {}), ...(mustRead.length ? { mustRead } : {}) };
}

function initImported(files: readonly string[], lockfile: string): InitFindings {
  const pyproject = files.includes('pyproject.toml') && lockfile !== 'Pipfile.lock';
  const reqs = files.filter((n) => /^requirements.*\.txt$/.test(n));
  const lines = [
    'python:',
    '  # The interpreter in the image that gets the locked packages.',
    '  interpreter: python3',
    `  # ${lockfile} is the source of truth: \`envseal lock\` follows its pins and hashes (checked against the index),`,
    '  # it does not resolve. Install dependency groups or extras of the lock with { path, groups: [...], extras: [...] }.',
    `  lockfile: ${lockfile}`,
  ];
  if (lockfile === 'Pipfile.lock')
    lines.push('  # Pipfile.lock is checked against Pipfile (its _meta.hash); groups: [develop] adds the dev packages to the dev image.');
  if (lockfile === 'poetry.lock')
    lines.push('  # poetry.lock is checked against pyproject.toml (its content-hash); the walk starts from [tool.poetry] dependencies.');
  if (pyproject)
    lines.push('  # Checked against the lock: a requirement the lock does not satisfy makes `lock` fail (stale lock).', '  pyproject: pyproject.toml');
  if (reqs.length) lines.push(`  # Not read while the lock is followed: ${reqs.join(', ')}`);
  lines.push('  # Install into a venv when the base Python is "externally managed" (PEP 668).', '  venv: auto');
  const pipfile = lockfile === 'Pipfile.lock' && files.includes('Pipfile') ? ['Pipfile'] : [];
  return { found: [lockfile, ...(pyproject ? ['pyproject.toml'] : []), ...pipfile], lines, devLines: [] };
}

function initPythonFiles(files: readonly string[]): InitFindings {
  const reqs = files.filter((n) => /^requirements.*\.txt$/.test(n));
  const isDev = (n: string) => /(^|[-_.])(dev|test|tests|lint|docs)([-_.]|$)/.test(n.replace(/^requirements/, '').replace(/\.txt$/, ''));
  const main = reqs.filter((n) => !isDev(n));
  const dev = reqs.filter(isDev);
  const pyproject = files.includes('pyproject.toml');
  const conda = files.find((f) => CONDA_ENV.test(f));
  const devLines = dev.length ? ['    python:', `      requirements: ${list(dev)}`] : ['    # python: { requirements: [requirements-dev.txt] }'];
  if (!main.length && !dev.length && !pyproject && !conda) return { found: [], lines: ['# python:', '#   requirements: [requirements.txt]'], devLines };
  const lines = ['python:', '  # The interpreter in the image that gets the locked packages.', '  interpreter: python3', `  requirements: ${list(main)}`];
  if (pyproject)
    lines.push(
      '  # [project] (or Poetry [tool.poetry]) dependencies; extras under `extras`; Poetry or PEP 735 groups under `groups` (dev image).',
      '  pyproject: { path: pyproject.toml, extras: [] }',
    );
  if (conda) lines.push('  # conda environment: its pip: section is locked, python=X.Y is checked against the base image.', `  environment: ${conda}`);
  lines.push(
    '  # PEP 503/691 index (requirement files may also set --index-url).',
    '  # index: https://pypi.org/simple',
    '  # Install into a venv when the base Python is "externally managed" (PEP 668).',
    '  venv: auto',
  );
  return { found: [...main, ...dev, ...(pyproject ? ['pyproject.toml'] : []), ...(conda ? [conda] : [])], lines, devLines };
}
