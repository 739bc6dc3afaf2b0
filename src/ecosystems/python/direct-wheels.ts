/**
 * Wheels and sdists required by URL (`name @ https://host/path/name-1.0-py3-none-any.whl`, `… name-1.0.tar.gz`,
 * see manifests/direct-url.ts), made ready for the resolver (an sdist's metadata is its PKG-INFO; when that is
 * dynamic the resolver has it built, as for an index's sdist): each URL is checked against the target's wheel tags, downloaded once to pin its
 * sha256 (streamed: a wheel may be large), checked against its `#sha256=` fragment, and its METADATA read (range
 * requests through the index client, checked against that sha256), so its dependencies resolve from the indexes.
 * A pin the previous lock holds for the same URL is kept without fetching the file again, as the files wing does.
 */
import { inputError, internalError, isEnvsealError } from '../../core/errors.js';
import type { IndexFile } from '../../core/ports.js';
import type { ResolveContext } from '../types.js';
import { checkDirectUrl, describeWheelTags, type DirectWheelUrl } from './manifests/direct-url.js';
import { evaluateMarker, type MarkerEnvironment } from './pep/marker.js';
import { normalizeName } from './pep/names.js';
import { parseRequirement } from './pep/requirement.js';
import { targetFitFor } from './resolver/target.js';
import type { DirectWheel } from './resolver/types.js';
import type { DeclaredRequirement, LockedPythonPackage, PythonSection } from './schema.js';

/** One wheel URL wanted for the target, with the requirement that names it (for messages). */
export interface WantedWheel extends DirectWheelUrl {
  name: string;
  requirement: DeclaredRequirement;
}

/**
 * The URL requirements that apply to the target (markers evaluated), one per project. Pure. Throws
 * `python.direct-url-constraint` for a URL in a constraint, `python.direct-url-conflict` for two URLs of one
 * project, `python.direct-url-platform` for a wheel the target cannot install (all exit 2).
 */
export function collectWantedWheels(requirements: readonly DeclaredRequirement[], target: ResolveContext<PythonSection>['ground']['target']): WantedWheel[] {
  const markers = target.python?.markers as unknown as MarkerEnvironment;
  const byName = new Map<string, WantedWheel>();
  for (const d of requirements) {
    const req = parseRequirement(d.requirement);
    if (req.url === undefined) continue;
    if (d.kind === 'constraint') {
      throw inputError('python.direct-url-constraint', `${d.source}: constraint "${d.requirement}" names a URL; a constraint only limits versions`, {
        hint: `require the wheel by URL in a requirements file instead, or constrain ${req.name} by version`,
      });
    }
    if (req.marker && !evaluateMarker(req.marker, markers)) continue;
    const check = checkDirectUrl(req.name, req.url);
    if (!check.ok) throw internalError('python.direct-url', `${d.source}: ${d.requirement} passed the manifest checks: ${check.problem}`);
    // Git requirements are locked to a commit by vcs.ts.
    if (!('value' in check)) continue;
    const seen = byName.get(req.normalizedName);
    if (seen && seen.url !== check.value.url) {
      throw inputError(
        'python.direct-url-conflict',
        `${req.normalizedName} is required from two URLs: ${seen.url} (${seen.requirement.source}) and ${check.value.url} (${d.source})`,
        { hint: `require ${req.normalizedName} from one URL` },
      );
    }
    if (!seen) byName.set(req.normalizedName, { ...check.value, name: req.normalizedName, requirement: d });
  }
  const wanted = [...byName.values()];
  if (wanted.length) checkTags(wanted, target);
  return wanted;
}

function checkTags(wanted: readonly WantedWheel[], target: ResolveContext<PythonSection>['ground']['target']): void {
  const fit = targetFitFor(target);
  for (const w of wanted) {
    if (!w.wheel || fit.rankWheelTags(w.wheel.tags) !== undefined) continue;
    throw inputError(
      'python.direct-url-platform',
      `${w.requirement.source}: ${w.wheel.filename} (required by URL) does not fit ${fit.description}: its tags are ${describeWheelTags(w.wheel)}`,
      { hint: `pin the wheel of ${w.name} built for this interpreter and platform (or a pure-Python py3-none-any wheel), or choose a base image it fits` },
    );
  }
}

/** Pins and reads every wanted wheel (see the file comment). Fetch failures are exit 3, a 4xx or a hash mismatch exit 2. */
export async function fetchDirectWheels(wanted: readonly WantedWheel[], ctx: ResolveContext<PythonSection>): Promise<DirectWheel[]> {
  const previous = new Map((ctx.previous?.packages ?? []).filter((p) => p.direct).map((p) => [p.name, p]));
  const upgrade = new Set((ctx.options.upgradePackages ?? []).map(normalizeName));
  const out: DirectWheel[] = [];
  for (const w of wanted) {
    const old = previous.get(w.name);
    const keep = old && old.file.url === w.url && (!w.sha256 || w.sha256 === old.file.sha256) && !ctx.options.upgradeAll && !upgrade.has(w.name);
    const pinned = keep ? pinOf(old) : await download(w, ctx);
    const file: IndexFile = {
      filename: w.filename,
      url: w.url,
      hashes: { sha256: pinned.sha256 },
      yanked: false,
      coreMetadata: false,
      ...(pinned.size !== undefined ? { size: pinned.size } : {}),
    };
    const doc = await ctx.index.getCoreMetadata({ index: w.url, name: w.name, files: [file] }, file);
    out.push({ name: w.name, file, metadata: doc.text });
  }
  return out;
}

function pinOf(p: LockedPythonPackage): { sha256: string; size?: number } {
  return { sha256: p.file.sha256, ...(p.file.size !== undefined ? { size: p.file.size } : {}) };
}

async function download(w: WantedWheel, ctx: ResolveContext<PythonSection>): Promise<{ sha256: string; size: number }> {
  if (!ctx.files) throw internalError('python.file-fetcher', 'wheels required by URL need a file fetcher, and none was given');
  ctx.logger.progress(`fetching ${w.url} to pin its sha256`);
  let got;
  try {
    got = await ctx.files.digest(w.url, ctx.signal ? { signal: ctx.signal } : {});
  } catch (err) {
    if (!isEnvsealError(err) || err.code !== 'files.not-found') throw err;
    throw inputError('python.direct-url-not-found', `${w.requirement.source}: ${err.message}`, {
      hint: `the URL of ${w.name} names no file that host serves: correct it`,
      cause: err,
    });
  }
  if (w.sha256 && got.sha256 !== w.sha256) {
    throw inputError('python.direct-url-hash', `${w.requirement.source}: ${w.url} has sha256 ${got.sha256}, but its #sha256= fragment says ${w.sha256}`, {
      hint: 'the server gives other bytes than the requirement pins: correct the fragment if the new file is intended, or the URL',
    });
  }
  return got;
}
