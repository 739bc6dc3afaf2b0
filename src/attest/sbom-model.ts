/**
 * What an SBOM of a locked environment says, independent of the format it is written in: one component per
 * pinned thing (the base image, apt packages, Python distributions, npm packages) with its package URL
 * (https://github.com/package-url/purl-spec), hashes and download location, and the dependency edges the
 * lock knows. Pure: the lock (and the npm lockfile's entries, read by the caller) in, data out. CycloneDX
 * (cyclonedx.ts) and SPDX (spdx.ts) are written from this, so both say the same thing.
 *
 * Credentials never reach an SBOM: the lock keeps none, and every URL is stripped of userinfo again here,
 * since an older lock or a package-lock.json may still carry some.
 */
import { PackageURL } from 'packageurl-js';
import { canonicalJsonCompact, sha256Hex } from '../core/canonical-json.js';
import { parseImageRef } from '../core/image-ref.js';
import { splitUrlCredentials } from '../core/url-credentials.js';
import type { NpmLockedPackage } from '../ecosystems/npm/parse-npm.js';
import type { Lock } from '../lock/schema.js';
import type { TargetName } from '../core/image-contract.js';

export type SbomHashAlgorithm = 'SHA-1' | 'SHA-256' | 'SHA-384' | 'SHA-512';

export interface SbomComponent {
  /** Unique within the document and stable: the purl (plus `#<install path>` for an npm name@version installed at several paths). */
  ref: string;
  kind: 'container' | 'library' | 'file';
  ecosystem: 'oci' | 'deb' | 'pypi' | 'npm';
  name: string;
  version: string;
  purl: string | null;
  hashes: { algorithm: SbomHashAlgorithm; hex: string }[];
  /** Where the file was (or is) downloaded from, without credentials. */
  downloadUrl: string | null;
  /** `envseal:*` facts: targets, where it is installed, file name. Sorted by name. */
  properties: [string, string][];
  /** Refs of the components it depends on. */
  dependsOn: string[];
}

export interface SbomModel {
  /** The locked environment the document describes (the root of the dependency graph). */
  root: { ref: string; name: string; fingerprint: string; dependsOn: string[] };
  resolvedAt: string;
  toolVersion: string;
  properties: [string, string][];
  components: SbomComponent[];
  /** Sha256 hex of the model: the basis of the document's serial number / namespace. */
  digest: string;
}

/** What the caller found for the npm section: the lockfile's packages, or why they are not listed. */
export type NpmContents = { found: true; direct: string[]; packages: NpmLockedPackage[] } | { found: false; reason: string };

const ROOT_REF = 'envseal:environment';

export interface SbomOptions {
  toolVersion: string;
  npm: NpmContents | null;
  /** Only what an image of this target holds (dev-only packages left out of deploy); absent: both targets. */
  target?: TargetName;
}

export function buildSbomModel(lock: Lock, options: SbomOptions): SbomModel {
  const target = options.target;
  const base = baseComponent(lock);
  const apt = aptComponents(lock, target);
  const python = pythonComponents(lock, target);
  const npm = npmComponents(lock, options.npm);
  // The base image carries the apt packages it already had; the rest are installed on top of it.
  base.dependsOn = apt.filter((a) => a.installedInBase).map((a) => a.component.ref);
  const rootDeps = [base.ref, ...apt.filter((a) => !a.installedInBase).map((a) => a.component.ref), ...python.direct, ...npm.direct];
  const properties: [string, string][] = [
    ['envseal:fingerprint', lock.fingerprint],
    ['envseal:input-hash', lock.inputHash],
    ['envseal:platform', lock.base.platform],
    ['envseal:target', target ?? 'deploy,dev'],
  ];
  if (npm.note) properties.push(['envseal:npm-packages', npm.note]);
  const components = [base, ...apt.map((a) => a.component), ...python.components, ...npm.components].sort((a, b) => compare(a.ref, b.ref));
  const root = { ref: ROOT_REF, name: lock.name, fingerprint: lock.fingerprint, dependsOn: sortedUnique(rootDeps) };
  const body = { root, resolvedAt: lock.resolvedAt, toolVersion: options.toolVersion, properties, components };
  return { ...body, digest: sha256Hex(canonicalJsonCompact(body)) };
}

function baseComponent(lock: Lock): SbomComponent {
  const ref = parseImageRef(lock.base.pinned);
  const repository = `${ref.registry}/${ref.repository}`;
  const name = ref.repository.split('/').pop()!;
  const arch = lock.base.platform.split('/')[1];
  const qualifiers: Record<string, string> = { repository_url: repository, ...(arch ? { arch } : {}), ...(lock.base.tag ? { tag: lock.base.tag } : {}) };
  const purl = new PackageURL('oci', null, name, lock.base.digest, qualifiers).toString();
  const properties: [string, string][] = [
    ['envseal:image-reference', lock.base.pinned],
    ['envseal:media-type', lock.base.mediaType],
    ['envseal:platform-digest', lock.base.platformDigest],
  ];
  if (lock.base.configDigest) properties.push(['envseal:config-digest', lock.base.configDigest]);
  properties.push(['envseal:os', `${lock.target.os.id} ${lock.target.os.versionId} (${lock.target.os.codename})`]);
  return {
    ref: purl,
    kind: 'container',
    ecosystem: 'oci',
    name: repository,
    version: lock.base.digest,
    purl,
    hashes: [{ algorithm: 'SHA-256', hex: lock.base.digest.slice('sha256:'.length) }],
    downloadUrl: null,
    properties: properties.sort(byName),
    dependsOn: [],
  };
}

function aptComponents(lock: Lock, target: TargetName | undefined): { component: SbomComponent; installedInBase: boolean }[] {
  const namespace = lock.target.os.id || 'debian';
  return (lock.apt?.packages ?? [])
    .filter((p) => target === undefined || p.targets.includes(target))
    .map((p) => {
      const purl = new PackageURL('deb', namespace, p.name, p.version, { arch: p.architecture, distro: `${namespace}-${lock.target.os.versionId}` }).toString();
      const properties: [string, string][] = [
        ['envseal:installed-by', p.installed ? 'base image' : 'apt'],
        ['envseal:targets', p.targets.join(',')],
      ];
      if (lock.apt?.snapshot && !p.installed) properties.push(['envseal:apt-snapshot', `${lock.apt.snapshot.url} ${lock.apt.snapshot.timestamp}`]);
      return {
        installedInBase: p.installed,
        component: {
          ref: purl,
          kind: 'library',
          ecosystem: 'deb',
          name: p.name,
          version: p.version,
          purl,
          hashes: [],
          downloadUrl: null,
          properties: properties.sort(byName),
          dependsOn: [],
        },
      };
    });
}

/** Python: one component per locked distribution; the edges come from the `via` chains (`source > a > b`). */
function pythonComponents(lock: Lock, target: TargetName | undefined): { components: SbomComponent[]; direct: string[] } {
  const packages = (lock.python?.packages ?? []).filter((p) => target === undefined || p.targets.includes(target));
  const refOf = new Map(packages.map((p) => [p.name, new PackageURL('pypi', null, p.name, p.version).toString()]));
  const direct: string[] = [];
  const edges = new Map<string, Set<string>>();
  for (const p of packages) {
    const ref = refOf.get(p.name)!;
    let reached = false;
    for (const chain of p.via) {
      const names = chain.split(' > ').map((s) => normalizeName(s.replace(/\[.*\]$/, '')));
      if (names.at(-1) === p.name) names.pop();
      if (names.length < 2) {
        // `source > name`: asked for in a manifest.
        direct.push(ref);
        reached = true;
        continue;
      }
      // A parent that is not listed (another target's package) gives no edge.
      const parent = refOf.get(names.at(-1)!);
      if (parent !== undefined && parent !== ref) {
        edges.set(parent, (edges.get(parent) ?? new Set()).add(ref));
        reached = true;
      }
    }
    // Never leave a package unreachable from the root.
    if (!reached) direct.push(ref);
  }
  const components = packages.map((p): SbomComponent => {
    const ref = refOf.get(p.name)!;
    return {
      ref,
      kind: 'library',
      ecosystem: 'pypi',
      name: p.name,
      version: p.version,
      purl: ref,
      hashes: [{ algorithm: 'SHA-256', hex: p.file.sha256 }],
      downloadUrl: splitUrlCredentials(p.file.url).url,
      properties: [
        ['envseal:filename', p.file.filename],
        ['envseal:index', splitUrlCredentials(p.index).url],
        ['envseal:targets', p.targets.join(',')],
      ],
      dependsOn: sortedUnique([...(edges.get(ref) ?? [])]),
    };
  });
  return { components, direct };
}

function npmComponents(lock: Lock, contents: NpmContents | null): { components: SbomComponent[]; direct: string[]; note: string | null } {
  const npm = lock.npm;
  if (!npm) return { components: [], direct: [], note: null };
  const lockfile = `${npm.dir === '.' ? '' : `${npm.dir}/`}${npm.lockfile}`;
  if (!contents || !contents.found) {
    // Only the lockfile's hash is known: the lockfile itself stands for the packages it pins.
    const ref = `envseal:npm-lockfile:${lockfile}`;
    const component: SbomComponent = {
      ref,
      kind: 'file',
      ecosystem: 'npm',
      name: lockfile,
      version: `sha256:${npm.sha256}`,
      purl: null,
      hashes: [{ algorithm: 'SHA-256', hex: npm.sha256 }],
      downloadUrl: null,
      properties: [['envseal:npm-packages', String(npm.packages)]],
      dependsOn: [],
    };
    const why = contents && !contents.found ? contents.reason : 'not read';
    return {
      components: [component],
      direct: [ref],
      note: `${npm.packages} packages pinned by ${lockfile} (sha256 ${npm.sha256}); not listed one by one: ${why}`,
    };
  }
  // A name@version npm installs at more than one path gets the path in its ref, so refs stay unique.
  const seen = new Map<string, number>();
  for (const p of contents.packages) seen.set(npmPurl(p), (seen.get(npmPurl(p)) ?? 0) + 1);
  const refOf = new Map(contents.packages.map((p) => [p.path, seen.get(npmPurl(p))! > 1 ? `${npmPurl(p)}#${p.path}` : npmPurl(p)]));
  const components = contents.packages.map((p): SbomComponent => {
    const ref = refOf.get(p.path)!;
    const hash = integrityHash(p.integrity);
    return {
      ref,
      kind: 'library',
      ecosystem: 'npm',
      name: p.name,
      version: p.version,
      purl: npmPurl(p),
      hashes: hash ? [hash] : [],
      downloadUrl: p.resolved ? splitUrlCredentials(p.resolved).url : null,
      properties: [['envseal:npm-path', p.path]],
      dependsOn: sortedUnique(p.dependsOn.map((d) => refOf.get(d)!).filter(Boolean)),
    };
  });
  const direct = contents.direct.map((d) => refOf.get(d)!).filter(Boolean);
  return { components, direct, note: `listed from ${lockfile}, whose sha256 matches the lock (${npm.sha256}); devDependencies left out (npm ci --omit=dev)` };
}

function npmPurl(p: NpmLockedPackage): string {
  const slash = p.name.startsWith('@') ? p.name.indexOf('/') : -1;
  return slash > 0
    ? new PackageURL('npm', p.name.slice(0, slash), p.name.slice(slash + 1), p.version).toString()
    : new PackageURL('npm', null, p.name, p.version).toString();
}

/** `sha512-<base64>` (Subresource Integrity; the strongest when several are listed) as a hex hash. */
function integrityHash(integrity: string | null): { algorithm: SbomHashAlgorithm; hex: string } | null {
  if (!integrity) return null;
  const rank: Record<string, SbomHashAlgorithm> = { sha1: 'SHA-1', sha256: 'SHA-256', sha384: 'SHA-384', sha512: 'SHA-512' };
  const order = ['sha512', 'sha384', 'sha256', 'sha1'];
  const parsed = integrity
    .trim()
    .split(/\s+/)
    .map((part) => /^(sha1|sha256|sha384|sha512)-([A-Za-z0-9+/]+={0,2})(\?.*)?$/.exec(part))
    .filter((m): m is RegExpExecArray => m !== null)
    .sort((a, b) => order.indexOf(a[1]!) - order.indexOf(b[1]!));
  const best = parsed[0];
  return best ? { algorithm: rank[best[1]!]!, hex: Buffer.from(best[2]!, 'base64').toString('hex') } : null;
}

function normalizeName(name: string): string {
  return name
    .trim()
    .toLowerCase()
    .replace(/[-_.]+/g, '-');
}

function sortedUnique(values: string[]): string[] {
  return [...new Set(values)].sort(compare);
}

function byName(a: [string, string], b: [string, string]): number {
  return compare(a[0], b[0]);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
