/**
 * The image contract: what envseal writes into every image it generates and what verify, run, diff and the
 * run record read back. Label names, in-image paths, target names. Everyone imports these from here, so a
 * reader of images never needs the Dockerfile renderer.
 */

export const LABEL_FINGERPRINT = 'dev.envseal.fingerprint';
export const LABEL_LOCK_DIGEST = 'dev.envseal.lock-digest';
export const LABEL_TARGET = 'dev.envseal.target';
/** `sha256:<hex>` of the SBOM file the image carries at SBOM_PATH_IN_IMAGE (its exact bytes). */
export const LABEL_SBOM_DIGEST = 'dev.envseal.sbom-digest';
/**
 * On every container envseal creates (probe, apt resolution, verify, run): which process made it
 * (`<host>/<pid>`), so a later envseal can remove what a killed one left behind, and a marker that it is
 * envseal's and temporary (`docker ps -a --filter label=dev.envseal.temporary` lists them).
 */
export const LABEL_CONTAINER_OWNER = 'dev.envseal.owner';
export const LABEL_TEMPORARY = 'dev.envseal.temporary';
/** Where the Dockerfile copies the lock inside the image. */
export const LOCK_PATH_IN_IMAGE = '/etc/envseal/lock.json';
/** Where the Dockerfile copies the CycloneDX SBOM of the lock inside the image, next to the lock. */
export const SBOM_PATH_IN_IMAGE = '/etc/envseal/sbom.cdx.json';
/** The SBOM file `envseal generate` writes next to the lock (the Dockerfile copies it into the image). */
export const DEFAULT_SBOM_FILE = 'envseal.sbom.cdx.json';
/** Where `envseal generate` writes, and what build/verify compare with. */
export const DEFAULT_DOCKERFILE = 'envseal.Dockerfile';
/** The virtual environment the python section installs into. */
export const DEFAULT_VENV = '/opt/envseal/venv';
/** Build argument `envseal build` sets to the git commit; plain `docker build` leaves it empty. */
export const REVISION_ARG = 'ENVSEAL_REVISION';

/**
 * The build arg index credentials arrive in: a netrc text, which pip reads (through requests) from the file
 * `NETRC` names. A predefined proxy arg because it is the only kind of build arg both the classic builder and
 * BuildKit keep out of `docker history`, the image config and the build cache key without an `ARG` line (an
 * `ARG` would record its value on every RUN line in the history); pip never uses an FTP proxy. See
 * docs/credentials.md for why not a BuildKit secret.
 */
export const INDEX_CREDENTIALS_ARG = 'FTP_PROXY';

/** The stages every generated Dockerfile has, in order. */
export const TARGET_NAMES = ['dev', 'deploy'] as const;
export type TargetName = (typeof TARGET_NAMES)[number];

/**
 * The repository a reproducible build tags its raw image with until normalisation replaces it. The tag names
 * the build's owner (`<host>/<pid>`, as on containers), so the raw image of a killed build can be removed.
 */
export const SCRATCH_REPOSITORY = 'envseal-scratch';

/** `envseal-scratch/<name>:<target>-<startedMs>-<pid>-<host>` (a tag is at most 128 characters). */
export function scratchTag(name: string, target: TargetName, owner: string, startedMs: number): string {
  const slash = owner.lastIndexOf('/');
  const host = owner.slice(0, slash).replace(/[^A-Za-z0-9_.-]/g, '_');
  const pid = owner.slice(slash + 1);
  return `${SCRATCH_REPOSITORY}/${name}:${`${target}-${startedMs}-${pid}-${host}`.slice(0, 128)}`;
}

/**
 * `envseal-cache/<name>:<target>`: the latest raw image of a project's target, kept so the classic builder's
 * cache holds the build's last step too (removing the raw image would delete it, and a repeat build would then
 * run that step again and get a new raw image, which must be normalised again). One tag per project and target,
 * moved by each build; the images it leaves behind are untagged, like the ones `docker build` leaves.
 */
export function buildCacheTag(name: string, target: TargetName): string {
  return `envseal-cache/${name}:${target}`;
}

/** The owner (`<host>/<pid>`) a scratch tag names, or null for any other reference. */
export function scratchOwner(reference: string): string | null {
  const match = /^envseal-scratch\/[^:]+:(?:dev|deploy)-\d+-(\d+)-([A-Za-z0-9_.-]+)$/.exec(reference);
  return match ? `${match[2]}/${match[1]}` : null;
}
