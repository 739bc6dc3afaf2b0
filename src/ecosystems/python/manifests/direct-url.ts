/**
 * Direct references (`name @ URL`, PEP 508 / PEP 440 "direct references") that envseal can lock: an http(s)
 * URL of a wheel (PEP 427 file name) or of an sdist (PEP 625 `.tar.gz` / `.zip`, `<name>-<version>`) whose
 * project is the requirement's, optionally with a `#sha256=<hex>` fragment the download must match. Lock
 * downloads it once, pins its sha256 and reads its METADATA (an sdist's PKG-INFO, or the wheel a lock-time build
 * makes when that metadata is dynamic); the image installs it from that URL, hash-checked (an sdist through the
 * builder stage). Git references (`git+https://…@ref`) are checked by vcs-url.ts and locked to a full commit.
 * What cannot be locked is refused here, before anything is fetched: other VCS references (hg, svn, bzr), other
 * archive formats, other schemes, URLs carrying credentials (the URL is written into the lock and the
 * Dockerfile). Pure.
 */
import { normalizeName } from '../pep/names.js';
import { formatTag } from '../pep/tags.js';
import { tryParseSdistFilename, tryParseWheelFilename, type WheelFilename } from '../pep/wheel.js';
import { isGitRequirementUrl, parseGitUrl, type GitUrl } from './vcs-url.js';

export interface DirectWheelUrl {
  /** The URL without its fragment: what the lock records and pip fetches. */
  url: string;
  /** The sha256 the URL's `#sha256=` fragment names, lower case, when it has one. */
  sha256?: string;
  /** The file name (last path segment, percent-decoded). */
  filename: string;
  /** The parsed wheel name; undefined for an sdist. */
  wheel?: WheelFilename;
}

export type DirectUrlCheck = { ok: true; value: DirectWheelUrl } | { ok: true; git: GitUrl } | { ok: false; problem: string; hint: string };

const VCS = /^(git|hg|svn|bzr)\+/i;
const SDIST = /\.(tar\.gz|zip)$/;
const OTHER_ARCHIVE = /\.(tgz|tar\.bz2|tbz|tar\.xz|txz|tar|TAR\.GZ|ZIP)$/i;

function wheelHint(name: string): string {
  return `publish a wheel of ${name} to a package index (a local one works) and require it by version, or pin a wheel by URL: "${name} @ https://host/path/${name.replace(/-/g, '_')}-1.0-py3-none-any.whl"`;
}

/** Whether `name @ url` names a lockable wheel; if not, what is wrong and what to do (for `manifest.direct-url`). */
export function checkDirectUrl(name: string, url: string): DirectUrlCheck {
  const fail = (problem: string, hint = wheelHint(name)): DirectUrlCheck => ({ ok: false, problem, hint });
  if (isGitRequirementUrl(url)) {
    const git = parseGitUrl(url);
    return git.ok ? { ok: true, git: git.value } : git;
  }
  if (VCS.test(url)) {
    return fail(
      `VCS requirements other than git (${url.split('+')[0]!.toLowerCase()}+…) are not supported yet: envseal would have to check out a ref and build the package`,
    );
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return fail(`${JSON.stringify(url)} is not a URL`);
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    return fail(`only http:// and https:// URLs of wheels can be locked, not ${parsed.protocol}//`);
  }
  if (parsed.username || parsed.password) {
    return fail(
      'the URL carries credentials, which would be written into the lock and the Dockerfile',
      'serve the wheel without credentials, or publish it to an index and put the index credentials in netrc (docs/credentials.md)',
    );
  }
  let filename = parsed.pathname.slice(parsed.pathname.lastIndexOf('/') + 1);
  try {
    filename = decodeURIComponent(filename);
  } catch {
    return fail(`the file name ${JSON.stringify(filename)} is not valid percent-encoding`);
  }
  const sha256 = readFragment(parsed.hash);
  if (sha256 === null)
    return fail(
      `the URL fragment ${parsed.hash} is not #sha256=<64 hex digits>`,
      'write the fragment as #sha256=<hex>, or leave it out and let envseal pin the sha256',
    );
  // The URL as written (no normalisation), without the fragment.
  const bare = url.includes('#') ? url.slice(0, url.indexOf('#')) : url;
  const pin = sha256 ? { sha256 } : {};
  if (SDIST.test(filename)) {
    const sdist = tryParseSdistFilename(filename, name);
    if (!sdist.ok) {
      return fail(
        `${filename} is not an sdist of ${normalizeName(name)}: ${sdist.reason}`,
        `name the sdist "<name>-<version>.tar.gz" (PEP 625), or require it under the project name its file carries`,
      );
    }
    return { ok: true, value: { url: bare, ...pin, filename } };
  }
  if (OTHER_ARCHIVE.test(filename)) {
    return fail(`${filename} is an archive envseal cannot build: sdists are "<name>-<version>.tar.gz" or ".zip" (PEP 625)`);
  }
  if (!filename.endsWith('.whl')) return fail(`the URL names neither a wheel (.whl) nor an sdist (.tar.gz, .zip)`);
  const wheel = tryParseWheelFilename(filename);
  if (!wheel.ok) return fail(`${filename} is not a valid wheel file name: ${wheel.reason}`);
  if (wheel.value.normalizedName !== normalizeName(name)) {
    return fail(
      `the wheel ${filename} is ${wheel.value.normalizedName}, not ${normalizeName(name)}`,
      `require it as "${wheel.value.name} @ ${url}", or fix the URL`,
    );
  }
  return { ok: true, value: { url: bare, ...pin, filename, wheel: wheel.value } };
}

/** The sha256 of a `#sha256=<hex>` fragment; undefined without a fragment; null for any other fragment. */
function readFragment(hash: string): string | undefined | null {
  if (hash === '' || hash === '#') return undefined;
  const m = /^#sha256=([0-9a-fA-F]{64})$/.exec(hash);
  return m ? m[1]!.toLowerCase() : null;
}

/** `cp311-cp311-manylinux_2_17_x86_64, …`: a wheel's tags for messages. */
export function describeWheelTags(wheel: WheelFilename): string {
  return wheel.tags.map(formatTag).join(', ');
}
