/**
 * `envseal init`: looks at the project's manifests and writes a commented envseal.yaml that uses them.
 * Refuses to overwrite an existing spec unless forced.
 */
import { readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { inputError } from '../core/errors.js';
import { describeWriteFailure, writeFileAtomic } from '../core/atomic-write.js';
import { parseSpec } from '../envspec/load-spec.js';
import { MAX_NAME_LENGTH, specSchema } from '../envspec/schema.js';
import { parseImageRef } from '../core/image-ref.js';
import { toRel, type ProjectPaths } from './load-inputs.js';
import { displayPath } from '../core/paths.js';

export const DEFAULT_BASE = 'python:3.12-slim-bookworm';

export interface DetectedManifests {
  requirements: string[];
  devRequirements: string[];
  pyproject: boolean;
  npm: 'ok' | 'no-lockfile' | null;
  aptLists: string[];
}

export async function detectManifests(dir: string): Promise<DetectedManifests> {
  const names = (await readdir(dir)).sort();
  const isFile = async (n: string) => (await stat(join(dir, n)).catch(() => null))?.isFile() ?? false;
  const files: string[] = [];
  for (const n of names) if (await isFile(n)) files.push(n);
  const reqs = files.filter((n) => /^requirements.*\.txt$/.test(n));
  const isDev = (n: string) => /(^|[-_.])(dev|test|tests|lint|docs)([-_.]|$)/.test(n.replace(/^requirements/, '').replace(/\.txt$/, ''));
  return {
    requirements: reqs.filter((n) => !isDev(n)),
    devRequirements: reqs.filter(isDev),
    pyproject: files.includes('pyproject.toml'),
    npm: files.includes('package.json') ? (files.includes('package-lock.json') ? 'ok' : 'no-lockfile') : null,
    aptLists: files.filter((n) => n === 'apt.txt' || n === 'apt-packages.txt'),
  };
}

export function renderInitSpec(options: { name: string; base: string; detected: DetectedManifests }): string {
  const { name, base, detected } = options;
  const list = (items: string[]) => `[${items.map((i) => JSON.stringify(i)).join(', ')}]`;
  const hasPython = detected.requirements.length > 0 || detected.pyproject || detected.devRequirements.length > 0;
  const lines = [
    '# envseal.yaml: what this project needs from its environment. `envseal lock` resolves it to exact pins',
    '# in envseal.lock; `envseal generate` turns the lock into envseal.Dockerfile. Reference: README.md.',
    'version: 1',
    `name: ${name}`,
    '# Base image (tag or digest); the lock pins it to a digest for the platform below.',
    `base: ${base}`,
    'platform: linux/amd64',
    '# Where the project lives in the image (mounted there for the dev target, copied there for deploy).',
    'workdir: /workspace',
    '# Environment variables baked into both images.',
    'env: {}',
  ];
  if (hasPython) {
    lines.push(
      'python:',
      '  # The interpreter in the image that gets the locked packages.',
      '  interpreter: python3',
      `  requirements: ${list(detected.requirements)}`,
    );
    if (detected.pyproject) lines.push('  # [project] dependencies; add optional-dependency groups under `extras`.', '  pyproject: { path: pyproject.toml, extras: [] }');
    lines.push(
      '  # PEP 503/691 index (requirement files may also set --index-url).',
      '  # index: https://pypi.org/simple',
      '  # Install into a venv when the base Python is "externally managed" (PEP 668).',
      '  venv: auto',
    );
  } else {
    lines.push('# python:', '#   requirements: [requirements.txt]');
  }
  if (detected.aptLists.length) {
    lines.push('apt:', '  # Debian/Ubuntu packages; the lock pins the whole closure to exact versions.', '  packages: []', `  lists: ${list(detected.aptLists)}`);
  } else {
    lines.push('# apt:', '#   packages: [git]');
  }
  if (detected.npm) {
    lines.push('npm:', '  # package.json + package-lock.json; the image runs `npm ci` on the lockfile.', '  dir: .');
  }
  lines.push('targets:', '  dev:', '    # Extra packages for development; the project is mounted at run time.');
  if (detected.devRequirements.length) lines.push('    python:', `      requirements: ${list(detected.devRequirements)}`);
  else lines.push('    # python: { requirements: [requirements-dev.txt] }');
  lines.push(
    '    env: {}',
    '  deploy:',
    '    # Paths copied into the deploy image, and how it starts. It runs as a non-root user.',
    '    copy: []',
    '    # command: ["python", "train.py"]',
    '    user: envseal',
    '',
  );
  return lines.join('\n');
}

export async function initProject(
  paths: ProjectPaths,
  options: { base?: string; name?: string; force?: boolean },
): Promise<{ text: string; detected: DetectedManifests }> {
  const rel = toRel(paths.dir, paths.spec);
  const exists = await stat(paths.spec).then(() => true, () => false);
  if (exists && !options.force) {
    throw inputError('init.exists', `${rel} already exists`, { hint: 'pass --force to overwrite it' });
  }
  const detected = await detectManifests(paths.dir);
  if (detected.npm === 'no-lockfile') {
    throw inputError('manifest.npm.no-lockfile', 'package.json has no package-lock.json next to it', {
      hint: 'envseal installs npm packages with `npm ci`, which needs a lockfile: run `npm install --package-lock-only` and commit package-lock.json',
    });
  }
  // Flags are checked before they are written into YAML, so a bad one is named as the flag it came from.
  if (options.base !== undefined) parseImageRef(options.base);
  const name = options.name ?? sanitizeName(basename(paths.dir));
  const nameCheck = specSchema.shape.name.safeParse(name);
  if (!nameCheck.success) {
    const shown = name.length > 60 ? `${JSON.stringify(name.slice(0, 60))}… (${name.length} characters)` : JSON.stringify(name);
    throw inputError('init.name', `--name ${shown}: ${nameCheck.error.issues[0]?.message ?? 'invalid'}`, {
      hint: 'use lowercase letters, digits, ".", "_" or "-", starting with a letter or digit',
    });
  }
  const text = renderInitSpec({ name, base: options.base ?? DEFAULT_BASE, detected });
  parseSpec(text, rel); // what init writes must always be a valid spec
  await writeFileAtomic(paths.spec, text).catch((err: unknown) => {
    throw describeWriteFailure(err, displayPath(paths.dir, paths.spec));
  });
  return { text, detected };
}

function sanitizeName(name: string): string {
  const s = name.toLowerCase().replace(/[^a-z0-9._-]+/g, '-').replace(/^[^a-z0-9]+/, '').slice(0, MAX_NAME_LENGTH);
  return s || 'project';
}
