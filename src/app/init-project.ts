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
import { displayPath } from '../core/paths.js';
import { ECOSYSTEMS } from '../ecosystems/registry.js';
import type { InitFindings } from '../ecosystems/types.js';
import { toRel, type ProjectPaths } from './load-inputs.js';

export const DEFAULT_BASE = 'python:3.12-slim-bookworm';

/** What each ecosystem wing found, by wing id. */
export type DetectedManifests = Record<string, InitFindings>;

export async function detectManifests(dir: string): Promise<DetectedManifests> {
  const names = (await readdir(dir)).sort();
  const isFile = async (n: string) => (await stat(join(dir, n)).catch(() => null))?.isFile() ?? false;
  const files: string[] = [];
  for (const n of names) if (await isFile(n)) files.push(n);
  return detectInFiles(files);
}

/** Pure: what the wings find among these top-level file names (a file the spec will read is not reported unused). */
export function detectInFiles(files: readonly string[]): DetectedManifests {
  return Object.fromEntries(
    ECOSYSTEMS.map((w) => {
      const { unused, ...findings } = w.init(files);
      const left = (unused ?? []).filter((u) => !findings.found.includes(u.file));
      return [w.id, left.length ? { ...findings, unused: left } : findings];
    }),
  );
}

export function renderInitSpec(options: { name: string; base: string; platforms?: string[]; detected: DetectedManifests }): string {
  const { name, base, detected } = options;
  const platforms = options.platforms?.length ? options.platforms : ['linux/amd64'];
  const findings = Object.values(detected);
  return [
    '# envseal.yaml: what this project needs from its environment. `envseal lock` resolves it to exact pins',
    '# in envseal.lock; `envseal generate` turns the lock into envseal.Dockerfile. Reference: README.md.',
    'version: 1',
    `name: ${name}`,
    '# Base image (tag or digest); the lock pins it to a digest for the platform below.',
    `base: ${base}`,
    ...(platforms.length > 1
      ? ['# The first platform is the primary one (probed, built by default); the lock pins the others too.', `platform: [${platforms.join(', ')}]`]
      : [`platform: ${platforms[0]}`]),
    '# Where the project lives in the image (mounted there for the dev target, copied there for deploy).',
    'workdir: /workspace',
    '# Environment variables baked into both images.',
    'env: {}',
    ...findings.flatMap((f) => f.lines),
    ...ignoreLines(findings.flatMap((f) => f.unused ?? [])),
    'targets:',
    '  dev:',
    '    # Extra packages for development; the project is mounted at run time.',
    ...findings.flatMap((f) => f.devLines),
    '    env: {}',
    '  deploy:',
    '    # Paths copied into the deploy image, and how it starts. It runs as a non-root user.',
    '    copy: []',
    '    # command: ["python", "train.py"]',
    '    user: envseal',
    '',
  ].join('\n');
}

function ignoreLines(unused: { file: string; why: string }[]): string[] {
  if (!unused.length) return [];
  return [
    '# Found but not read by envseal, so `envseal lock` refuses while they are present:',
    ...unused.map((u) => `#   ${u.file}: ${u.why}`),
    '# If they are not inputs of this environment, say so:',
    `# ignore: [${unused.map((u) => JSON.stringify(u.file)).join(', ')}]`,
  ];
}

export async function initProject(
  paths: ProjectPaths,
  options: { base?: string; name?: string; platform?: string[]; force?: boolean },
): Promise<{ text: string; detected: DetectedManifests }> {
  const rel = toRel(paths.dir, paths.spec);
  const exists = await stat(paths.spec).then(
    () => true,
    () => false,
  );
  if (exists && !options.force) {
    throw inputError('init.exists', `${rel} already exists`, { hint: 'pass --force to overwrite it' });
  }
  const detected = await detectManifests(paths.dir);
  const refusal = Object.values(detected).find((f) => f.refuse)?.refuse;
  if (refusal) throw inputError(refusal.code, refusal.message, { hint: refusal.hint });
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
  const platforms = [...new Set(options.platform ?? [])];
  for (const p of platforms) {
    const check = specSchema.shape.platform.safeParse(p);
    if (!check.success) {
      throw inputError('init.platform', `--platform ${JSON.stringify(p)}: must look like os/arch[/variant]`, {
        hint: 'e.g. --platform linux/amd64 --platform linux/arm64',
      });
    }
  }
  const text = renderInitSpec({ name, base: options.base ?? DEFAULT_BASE, platforms, detected });
  parseSpec(text, rel); // what init writes must always be a valid spec
  await writeFileAtomic(paths.spec, text).catch((err: unknown) => {
    throw describeWriteFailure(err, displayPath(paths.dir, paths.spec));
  });
  return { text, detected };
}

function sanitizeName(name: string): string {
  const s = name
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[^a-z0-9]+/, '')
    .slice(0, MAX_NAME_LENGTH);
  return s || 'project';
}
