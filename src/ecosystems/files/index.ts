/**
 * The files wing: remote files an ML image needs besides packages (model weights, tokenizers, a dataset), each
 * pinned by sha256 as Bazel's http_file or Nix's fetchurl pin theirs. `lock` streams every URL once and records
 * its sha256 and size (checking the spec's sha256 when one is given); the Dockerfile fetches it with ADD and
 * checks the sha256 before anything else uses it, so a changed file fails the build instead of changing the
 * image; `verify` hashes the files inside the image. The fingerprint covers where each file goes and its
 * sha256, not the URL: the same bytes from a mirror are the same environment.
 */
import { internalError, inputError } from '../../core/errors.js';
import { DriftCollector, type DriftEntry } from '../../core/drift.js';
import { shellQuote } from '../../core/dockerfile-quote.js';
import { splitUrlCredentials } from '../../core/url-credentials.js';
import { defineEcosystem, type ContentsCheck } from '../types.js';
import { filesDeclaredSchema, filesSectionSchema, filesSpecSchema, type FilesDeclared, type FilesSection, type LockedFile } from './schema.js';

const byPath = <T extends { path: string }>(list: readonly T[]): T[] => [...list].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));

export const filesWing = defineEcosystem({
  id: 'files',
  title: 'remote files by URL (model weights, datasets), pinned by sha256',
  addedLater: true,
  schemas: { spec: filesSpecSchema, devSpec: null, declared: filesDeclaredSchema, section: filesSectionSchema },
  // Nothing to detect among a project's files: remote files are only ever declared.
  init: () => ({ found: [], lines: [], devLines: [] }),
  async load(spec, _dev, ctx) {
    if (!spec) return null;
    const seen = new Set<string>();
    for (const [i, f] of spec.entries()) {
      if (splitUrlCredentials(f.url).credentials) {
        throw inputError('files.credentials', `${ctx.specFile}: files[${i}].url carries credentials`, {
          hint: 'the image build fetches the URL with ADD, which would write them into the Dockerfile: serve the file without credentials',
        });
      }
      // ADD expands $VARIABLES even in its JSON form: a literal `$` would fetch or write somewhere else.
      if (f.url.includes('$') || f.path.includes('$')) {
        throw inputError('files.dollar', `${ctx.specFile}: files[${i}] has a "$" in its url or path`, {
          hint: 'the Dockerfile would expand it as a build variable: rename the file',
        });
      }
      if (seen.has(f.path)) throw inputError('files.duplicate', `${ctx.specFile}: files lists ${f.path} twice`, { hint: 'give each file its own path' });
      seen.add(f.path);
    }
    return { declared: byPath(spec), state: undefined };
  },
  normalizeDeclared: (files) => byPath(files),
  canonicalDeclared: (files) => byPath(files),
  async resolve(declared, _state, ctx) {
    if (!ctx.files) throw internalError('files.fetcher', 'the files wing needs a file fetcher, and none was given');
    const previous = new Map((ctx.previous ?? []).map((f) => [f.path, f]));
    const out: LockedFile[] = [];
    for (const f of declared) {
      const old = previous.get(f.path);
      // A file already pinned at this URL (and at the spec's sha256, when it names one) is not fetched again.
      if (old && old.url === f.url && (!f.sha256 || f.sha256 === old.sha256) && !ctx.options.upgradeAll) {
        out.push(old);
        continue;
      }
      ctx.logger.progress(`fetching ${f.url} to pin its sha256`);
      const got = await ctx.files.digest(f.url, ctx.signal ? { signal: ctx.signal } : {});
      if (f.sha256 && got.sha256 !== f.sha256) {
        throw inputError('files.hash-mismatch', `${f.url} has sha256 ${got.sha256}, envseal.yaml says ${f.sha256} (for ${f.path})`, {
          hint: 'the server gives other bytes than the spec pins: correct the sha256 in envseal.yaml if the new file is intended, or the URL',
        });
      }
      out.push({ path: f.path, url: f.url, sha256: got.sha256, size: got.size });
    }
    return out;
  },
  canonicalize: (files) => byPath(files),
  fingerprint: (files) => files.map((f) => ({ path: f.path, sha256: f.sha256 })),
  render(files) {
    const add = files.map((f) => `ADD ${JSON.stringify([f.url, f.path])}`);
    const sums = files.map((f) => shellQuote(`${f.sha256}  ${f.path}`)).join(' ');
    const check = `RUN printf '%s\\n' ${sums} | sha256sum -c - \\\n && chmod 0644 ${files.map((f) => shellQuote(f.path)).join(' ')}`;
    return { deps: `# Remote files: fetched by URL, then checked against the sha256 in the lock before anything uses them.\n${[...add, check].join('\n')}` };
  },
  contents: filesContents(),
  count: (files) => files.length,
  pins: (files) => Object.fromEntries(files.map((f) => [f.path, `sha256:${f.sha256}`])),
  drift: filesDrift,
});

function filesContents(): ContentsCheck<FilesSection> {
  return {
    script: (files) => `sha256sum -- ${files.map((f) => shellQuote(f.path)).join(' ')} 2>&1 || true`,
    compare(files, _target, observed) {
      const seen = new Map<string, string>();
      for (const line of (observed ?? '').split('\n')) {
        const m = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
        if (m) seen.set(m[2]!, m[1]!);
      }
      return files.flatMap((f) => {
        const sha = seen.get(f.path);
        if (!sha) return [`files: missing ${f.path}`];
        return sha === f.sha256 ? [] : [`files: ${f.path} has sha256 ${sha}, the lock says ${f.sha256}`];
      });
    },
  };
}

function filesDrift(before: FilesDeclared | null, after: FilesDeclared | null, specFile: string): DriftEntry[] {
  const out = new DriftCollector(specFile);
  const a = new Map((before ?? []).map((f) => [f.path, f]));
  const b = new Map((after ?? []).map((f) => [f.path, f]));
  for (const path of [...new Set([...a.keys(), ...b.keys()])].sort()) {
    const fa = a.get(path);
    const fb = b.get(path);
    if (!fa || !fb) out.scalar(`file ${path}`, fa?.url, fb?.url);
    else {
      out.scalar(`file ${path} url`, fa.url, fb.url);
      out.scalar(`file ${path} sha256`, fa.sha256, fb.sha256);
    }
  }
  return out.entries;
}
