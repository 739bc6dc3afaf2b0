/**
 * Git pins of an imported lock (uv `source = { git = "…?rev=…#<commit>" }`, pylock `[packages.vcs]` with
 * `commit-id`), followed pin for pin like a `name @ git+…@<commit>` requirement (vcs.ts): the commit's archive
 * is made with the host's git, built in the base image at lock time, and the built wheel's version must be the
 * one the lock names. A project whose version comes from git (setuptools-scm) is given the lock's version: the
 * tool that wrote the lock computed it from the repository, so it is exact. Every refusal is exit 2 naming the
 * lock file and the package.
 */
import { createHash } from 'node:crypto';
import { EnvsealError, inputError, internalError } from '../../../core/errors.js';
import { maskUrlCredentials } from '../../../core/url-credentials.js';
import type { GitSources } from '../../../core/ports.js';
import { lockedGitUrl, parseGitUrl } from '../manifests/vcs-url.js';
import { normalizeVersion, tryParseVersion } from '../pep/version.js';
import type { LockedPythonPackage } from '../schema.js';
import type { SdistBuilder } from '../sdist-build.js';
import { readGitProjectFiles } from '../vcs.js';
import { usesScmVersion } from '../vcs-dynamic.js';
import type { SelectedPackage } from './select.js';
import type { ImportedLock } from './types.js';

export interface ImportGitDeps {
  git?: GitSources;
  signal?: AbortSignal;
}

/** The locked package of a git pin, its archive built once (the lock's `build` reuses that build). */
export async function pinGit(lock: ImportedLock, s: SelectedPackage, deps: ImportGitDeps, builder: SdistBuilder | undefined): Promise<LockedPythonPackage> {
  const g = s.git!;
  const what = `${lock.path}: package ${s.name} ${s.version}`;
  const regenerate = `pin ${s.name} to a full commit of a git repository reachable by URL and regenerate ${lock.path}`;
  const checked = parseGitUrl(`git+${g.repo}${g.subdirectory !== undefined ? `#subdirectory=${g.subdirectory}` : ''}`);
  if (!checked.ok || checked.value.ref !== undefined) {
    const problem = checked.ok ? 'its URL names a ref after "@"' : checked.problem;
    throw inputError('python.import-unsupported', `${what}: its git repository ${maskUrlCredentials(g.repo)} cannot be locked: ${problem}`, {
      hint: checked.ok ? regenerate : checked.hint,
    });
  }
  if (!/^[0-9a-f]{40}$/.test(g.commit)) {
    throw inputError('python.import-vcs-commit', `${what}: it is pinned to ${JSON.stringify(g.commit)}, not a full 40-character commit`, { hint: regenerate });
  }
  if (!deps.git || !builder) throw internalError('python.git', 'git pins of an imported lock need GitSources and the sdist builder');
  const source = await deps.git
    .archive(checked.value.repo, g.commit, `${s.name}-${g.commit}`, deps.signal ? { signal: deps.signal } : {})
    .catch((err: unknown) => {
      if (err instanceof EnvsealError && err.kind === 'input')
        throw inputError('python.import-vcs-commit', `${what}: ${err.message}`, { hint: regenerate, cause: err });
      throw err;
    });
  const files = await readGitProjectFiles(source.data, checked.value.subdirectory);
  const url = lockedGitUrl(checked.value.repo, g.commit, checked.value.subdirectory);
  const pkg: LockedPythonPackage = {
    name: s.name,
    version: s.version,
    file: {
      filename: `${s.name.replace(/-/g, '_')}-${s.version}.tar.gz`,
      url,
      sha256: createHash('sha256').update(source.data).digest('hex'),
      size: source.data.length,
      uploadTime: new Date(source.commitTime * 1000).toISOString().replace(/\.000Z$/, 'Z'),
    },
    index: url,
    direct: true,
    via: [lock.path],
    targets: s.targets,
  };
  builder.addArchive(url, source.data, usesScmVersion(files) ? s.version : undefined);
  const built = await builder.build(pkg);
  const header = (built.metadata ?? '').split(/\r?\n\r?\n/)[0]!;
  const version = /^Version:[ \t]*(.*)$/im.exec(header)?.[1]?.trim();
  const same =
    version !== undefined &&
    tryParseVersion(version) !== null &&
    tryParseVersion(s.version) !== null &&
    normalizeVersion(version) === normalizeVersion(s.version);
  if (!same) {
    throw inputError('python.import-vcs-version', `${what}: commit ${g.commit} builds version ${version ?? '(none)'}, not the ${s.version} the lock names`, {
      hint: `the lock does not match the repository: regenerate ${lock.path}`,
    });
  }
  return pkg;
}
