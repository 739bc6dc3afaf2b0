/**
 * The locked Python closure in the formats other installers read, so pip, uv or pdm install exactly what
 * envseal locked: a PEP 751 `pylock.toml` (both targets: the deploy closure by default, the dev-only packages
 * behind the `dev` dependency group) and a pip requirements file with one `--hash` per package (one target).
 * Pure: lock section and probe in, text out; the same lock gives the same bytes.
 */
import type { TargetProbe } from '../../core/ground.js';
import type { TargetName } from '../../core/image-contract.js';
import { pipRequirement } from './dockerfile.js';
import { parseLockedGitUrl } from './manifests/vcs-url.js';
import type { LockedPythonPackage, PythonSection } from './schema.js';

export interface ExportSource {
  section: PythonSection;
  target: TargetProbe;
  /** The lock's fingerprint and path, named in the output so a reader can trace it back. */
  fingerprint: string;
  lockFile: string;
  toolVersion: string;
}

/** A TOML basic string: JSON's escapes (\" \\ \n \t \uXXXX ...) are all valid TOML escapes. */
function tomlString(value: string): string {
  return JSON.stringify(value);
}

/** RFC 3339 instants as TOML offset date-times (unquoted); anything else is left out rather than misquoted. */
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function isDevOnly(p: LockedPythonPackage): boolean {
  return !p.targets.includes('deploy');
}

/** The marker environment the lock was made for: one exact environment, as envseal locks one interpreter. */
function environmentMarker(target: TargetProbe): string | null {
  const markers = target.python?.markers;
  if (!markers) return null;
  const keys = ['sys_platform', 'platform_machine', 'implementation_name', 'python_full_version'];
  const parts = keys.filter((k) => markers[k] !== undefined).map((k) => `${k} == '${markers[k]!.replace(/'/g, '')}'`);
  return parts.length ? parts.join(' and ') : null;
}

function wheelLine(p: LockedPythonPackage): string {
  const f = p.file;
  const fields = [`name = ${tomlString(f.filename)}`];
  if (f.uploadTime && INSTANT.test(f.uploadTime)) fields.push(`upload-time = ${f.uploadTime}`);
  fields.push(`url = ${tomlString(f.url)}`);
  if (f.size !== undefined) fields.push(`size = ${f.size}`);
  fields.push(`hashes = { sha256 = ${tomlString(f.sha256)} }`);
  return `{ ${fields.join(', ')} }`;
}

/** PEP 751 pylock.toml (lock-version 1.0). Packages sorted by name, keys in the specification's order. */
export function exportPylock(source: ExportSource): string {
  const { section, target } = source;
  const hasDev = section.packages.some(isDevOnly);
  const lines = ['# pylock.toml (PEP 751) exported by envseal from ' + source.lockFile + '; regenerate it with `envseal export`, do not edit.'];
  lines.push(`lock-version = "1.0"`);
  const environment = environmentMarker(target);
  if (environment) lines.push(`environments = [${tomlString(environment)}]`);
  if (target.python?.version) lines.push(`requires-python = ${tomlString(`==${target.python.version}`)}`);
  lines.push('extras = []');
  lines.push(`dependency-groups = [${hasDev ? '"dev"' : ''}]`);
  lines.push(`default-groups = ["deploy"]`);
  lines.push(`created-by = "envseal"`);
  const packages = [...section.packages].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const p of packages) {
    lines.push('', '[[packages]]', `name = ${tomlString(p.name)}`, `version = ${tomlString(p.version)}`);
    // Installed by default (the deploy group); dev-only packages when the `dev` group is asked for.
    if (isDevOnly(p)) lines.push(`marker = "'dev' in dependency_groups"`);
    // A wheel required by URL came from no index: its url says where it is.
    if (!p.direct) lines.push(`index = ${tomlString(p.index)}`);
    const git = parseLockedGitUrl(p.file.url);
    if (git) {
      // PEP 751 [packages.vcs]: the commit, never a moving ref.
      const sub = git.subdirectory !== undefined ? `, subdirectory = ${tomlString(git.subdirectory)}` : '';
      lines.push(`vcs = { type = "git", url = ${tomlString(git.repo)}, commit-id = ${tomlString(git.commit)}${sub} }`);
    } else if (p.file.filename.endsWith('.whl')) {
      lines.push(`wheels = [`, `  ${wheelLine(p)},`, `]`);
    } else {
      lines.push(`sdist = ${wheelLine(p)}`);
    }
  }
  lines.push('', '[tool.envseal]', `fingerprint = ${tomlString(source.fingerprint)}`, `lock = ${tomlString(source.lockFile)}`);
  lines.push(`version = ${tomlString(source.toolVersion)}`);
  return `${lines.join('\n')}\n`;
}

/**
 * What pip does with an sdist line (it builds it, the build requirements coming from the index under build
 * isolation, unhashed) and what envseal locked for that build, so a reader can pin the same.
 */
function sdistNote(p: LockedPythonPackage): string[] {
  const build = p.build!;
  return [
    `    # ${p.file.filename} is an sdist: pip builds it; envseal built it with ${build.deps.map((d) => `${d.name} ${d.version}`).join(', ') || 'no build requirements'}`,
    ...build.deps.map((d) => `    #   ${d.name}==${d.version} --hash=sha256:${d.file.sha256}`),
    `    # (SOURCE_DATE_EPOCH=${build.sourceDateEpoch}) into ${build.wheel.filename} sha256:${build.wheel.sha256}`,
  ];
}

/**
 * A pip requirements file for one target: `name==version --hash=sha256:…` (`name @ URL --hash=…` for a wheel
 * required by URL) for every package of its closure,
 * the indexes the files came from, and a comment saying how to install it (`--no-deps --require-hashes`).
 */
export function exportRequirements(source: ExportSource, targetName: TargetName): string {
  const { section, target } = source;
  const packages = section.packages.filter((p) => p.targets.includes(targetName)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const python = target.python
    ? `${target.python.implementation} ${target.python.version} on ${target.python.markers.sys_platform ?? 'linux'}/${target.machine}`
    : target.machine;
  const lines = [
    `# The ${targetName} Python closure of ${source.lockFile} (fingerprint ${source.fingerprint}), exported by envseal ${source.toolVersion}.`,
    `# For ${python}. Install exactly these files with:`,
    '#   pip install --no-deps --require-hashes -r <this file>',
    '# Regenerate it with `envseal export`, do not edit.',
  ];
  const git = packages.filter((p) => parseLockedGitUrl(p.file.url));
  if (git.length) {
    // pip's hash-checking mode refuses VCS requirements, so they are commented out below and installed apart.
    lines.push('# Git packages (pinned to a full commit; pip cannot hash-check them) go first, on their own:');
    for (const p of git) lines.push(`#   pip install --no-deps '${p.name} @ ${p.file.url}'`);
  }
  const indexes = [...new Set([...section.indexes, ...packages.filter((p) => !p.direct).map((p) => p.index)])];
  const [first, ...rest] = indexes;
  if (first) lines.push(`--index-url ${first}`);
  for (const url of rest) lines.push(`--extra-index-url ${url}`);
  if (packages.length && packages.every((p) => p.file.filename.endsWith('.whl'))) lines.push('--only-binary :all:');
  for (const p of packages) {
    if (parseLockedGitUrl(p.file.url)) {
      // pip cannot hash-check a VCS checkout (it refuses --hash there): the commit pins it.
      lines.push('', `# ${p.name} @ ${p.file.url}`, `#   (install it on its own, see above: pip cannot hash-check a git checkout; the commit pins it)`);
      for (const chain of p.via) lines.push(`    # via ${chain}`);
      continue;
    }
    lines.push('', `${pipRequirement(p)} \\`, `    --hash=sha256:${p.file.sha256}`);
    for (const chain of p.via) lines.push(`    # via ${chain}`);
    if (p.build) lines.push(...sdistNote(p));
  }
  return `${lines.join('\n')}\n`;
}
