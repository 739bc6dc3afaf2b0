/**
 * The PubGrub provider for Python (see resolve-python.ts for how it decides): loads index pages and
 * metadata, turns requirements into solver terms, chooses versions and files, and reads the lock back out.
 */
import type { CoreMetadataDocument, IndexProject, Logger, PackageIndex } from '../../../core/ports.js';
import { silentLogger } from '../../../core/ports.js';
import { inputError, internalError, isEnvsealError } from '../../../core/errors.js';
import type { DeclaredRequirement, LockedPythonPackage } from '../schema.js';
import { evaluateMarker, type MarkerEnvironment } from '../pep/marker.js';
import { normalizeName } from '../pep/names.js';
import { parseRequirement, type Requirement } from '../pep/requirement.js';
import { filterVersions, parseSpecifierSet, type SpecifierSet } from '../pep/specifier.js';
import { compareVersions } from '../pep/version.js';
import {
  collectCandidates,
  completeCandidates,
  missingProject,
  type FileCandidate,
  type ProjectCandidates,
  type TargetFit,
  type VersionCandidates,
} from './candidates.js';
import { parseCoreMetadata, sdistMetadataProblem, type CoreMetadata } from './core-metadata.js';
import { listBits, countBits, type ChooseResult, type DependenciesResult, type Dependency, type Forbidden, type SolverProvider } from './pubgrub.js';
import { targetFitFor } from './target.js';
import { ROOT, formatPackageId, isPinned, makeBit, parseSpecifierSetOnce, splitId, summarizeVersions, type EdgeMeta } from './package-ids.js';
import { explainSolution } from './solution-graph.js';
import { TaskQueue } from './task-queue.js';
import { withDirectWheels } from './direct-index.js';
import type { ResolvePythonDeps, ResolvePythonRequest } from './types.js';

interface RootRequirement {
  declared: DeclaredRequirement;
  requirement: Requirement;
  order: number;
}

interface Constraint {
  specifier: SpecifierSet;
  text: string;
  source: string;
}

export class PythonProvider implements SolverProvider {
  private readonly index: PackageIndex;
  private readonly logger: Logger;
  private readonly buildMetadata: ResolvePythonDeps['buildMetadata'];
  private readonly fit: TargetFit;
  private readonly markers: MarkerEnvironment;
  private readonly request: ResolvePythonRequest;
  private readonly excludeNewer: number | undefined;
  private readonly onlyBinary: ReadonlySet<string>;
  private readonly indexPins: ReadonlyMap<string, string>;
  private readonly hashes = new Map<string, Set<string>>();
  private readonly constraints = new Map<string, Constraint[]>();
  private readonly previous = new Map<string, LockedPythonPackage>();
  private readonly roots: RootRequirement[] = [];
  private readonly direct: ReadonlySet<string>; // projects pinned to one wheel by URL (`request.direct`)

  private readonly projects = new Map<string, ProjectCandidates>();
  private readonly projectLoads = new Map<string, Promise<ProjectCandidates>>();
  private readonly metadataLoads = new Map<string, Promise<CoreMetadata>>();
  /** Dependencies of every (package, version) the solver asked for: the graph the `via` chains walk. */
  readonly edges = new Map<string, Dependency[]>();
  private readonly depth = new Map<string, number>();
  private readonly requestedOrder = new Map<string, number>();
  /** First chain through which each package was reached, for messages. */
  private readonly firstChain = new Map<string, string>();
  private readonly constrained = new Set<string>();
  /** Version sets by project and specifier (a project's universe never changes once loaded). */
  private readonly versionSets = new Map<string, bigint>();

  private readonly prefetchQueue: TaskQueue;
  private readonly prefetched = new Set<string>();

  constructor(request: ResolvePythonRequest, deps: ResolvePythonDeps) {
    this.request = request;
    this.index = request.direct?.length ? withDirectWheels(deps.index, request.direct) : deps.index;
    this.direct = new Set((request.direct ?? []).map((w) => w.name));
    this.logger = deps.logger ?? silentLogger;
    this.buildMetadata = deps.buildMetadata;
    this.prefetchQueue = new TaskQueue(Math.max(1, deps.concurrency ?? 16));
    const python = request.target.python;
    if (!python) throw internalError('python.no-target-python', 'resolvePython needs a target probe with a Python interpreter');
    this.fit = targetFitFor(request.target);
    this.markers = python.markers as unknown as MarkerEnvironment;
    if (request.indexes.length === 0 && Object.keys(request.indexPins ?? {}).length === 0) {
      throw inputError('python.no-index', 'no Python package index is configured', { hint: 'set python.indexes in envseal.yaml' });
    }
    if (request.options.excludeNewer !== undefined) {
      const t = Date.parse(request.options.excludeNewer);
      if (Number.isNaN(t)) {
        throw inputError('python.exclude-newer', `excludeNewer ${JSON.stringify(request.options.excludeNewer)} is not a timestamp`, {
          hint: 'use an ISO 8601 instant such as 2024-05-01T00:00:00Z',
        });
      }
      this.excludeNewer = t;
    }
    this.onlyBinary = new Set((request.options.onlyBinary ?? []).map((n) => (n === ':all:' ? n : normalizeName(n))));
    const pins = [...Object.entries(request.indexPins ?? {}), ...(request.direct ?? []).map((w) => [w.name, w.file.url] as const)];
    this.indexPins = new Map(pins.map(([name, url]) => [normalizeName(name), url]));
    const upgrade = request.upgrade;
    const upgradeSet = new Set(Array.isArray(upgrade) ? upgrade.map(normalizeName) : []);
    if (upgrade !== true) {
      for (const p of request.previous ?? []) if (!upgradeSet.has(p.name)) this.previous.set(p.name, p);
    }
    this.readRequirements(request.requirements);
  }

  private readRequirements(declared: DeclaredRequirement[]): void {
    let order = 0;
    for (const d of declared) {
      const requirement = parseRequirement(d.requirement);
      if (requirement.marker && !evaluateMarker(requirement.marker, this.markers)) {
        this.logger.debug(`${d.source}: ${d.requirement} does not apply to ${this.fit.description}`);
        continue;
      }
      // `name @ URL`: the URL's wheel is the project's only file (see the constructor); the rest is a name.
      if (requirement.url !== undefined && !this.direct.has(requirement.normalizedName)) {
        throw internalError('python.direct-reference', `${d.source}: ${d.requirement} reached the resolver without its wheel`);
      }
      delete requirement.url;
      const name = requirement.normalizedName;
      if (d.hashes.length > 0) {
        const list = new Set(d.hashes.map((h) => h.replace(/^sha256:/, '').toLowerCase()));
        const prev = this.hashes.get(name);
        // Several lines with hashes for one project: a file must be allowed by all of them (pip intersects).
        this.hashes.set(name, prev ? new Set([...prev].filter((h) => list.has(h))) : list);
      }
      if (d.kind === 'constraint') {
        const list = this.constraints.get(name) ?? [];
        list.push({ specifier: parseSpecifierSet(requirement.specifier), text: `${name}${requirement.specifier}`, source: d.source });
        this.constraints.set(name, list);
        continue;
      }
      this.roots.push({ declared: d, requirement, order: order++ });
    }
  }

  // -------------------------------------------------------------------------------------------------------
  // Loading

  private indexesFor(name: string): string[] {
    const pinned = this.indexPins.get(name);
    return pinned !== undefined ? [pinned] : this.request.indexes;
  }

  loadProject(name: string): Promise<ProjectCandidates> {
    let load = this.projectLoads.get(name);
    if (!load) {
      load = this.fetchProject(name).then((p) => {
        this.projects.set(name, p);
        return p;
      });
      this.projectLoads.set(name, load);
      load.catch(() => this.projectLoads.delete(name));
    }
    return load;
  }

  private async fetchProject(name: string): Promise<ProjectCandidates> {
    const tried: string[] = [];
    let found: IndexProject | null = null;
    for (const index of this.indexesFor(name)) {
      tried.push(index);
      found = await this.index.getProject(index, name);
      if (found) break;
    }
    if (!found) return missingProject(name, tried);
    const onlyBinary = this.onlyBinary.has(':all:') || this.onlyBinary.has(name);
    return collectCandidates(
      found,
      this.fit,
      {
        onlyBinary,
        ...(this.excludeNewer !== undefined && !this.direct.has(name) ? { excludeNewer: this.excludeNewer } : {}),
        ...(this.hashes.has(name) ? { allowedHashes: this.hashes.get(name)! } : {}),
      },
      tried,
    );
  }

  private project(name: string): ProjectCandidates {
    const p = this.projects.get(name);
    if (!p) throw internalError('python.not-loaded', `project ${name} was used before it was loaded`);
    return p;
  }

  /** The file of a version that gets installed: the previous lock's file when still listed, else pip's pick. */
  chooseFile(name: string, entry: VersionCandidates): FileCandidate {
    const prev = this.previous.get(name);
    if (prev && compareVersions(prev.version, entry.parsed) === 0) {
      const same = entry.files.find((f) => f.file.filename === prev.file.filename && f.file.hashes.sha256 === prev.file.sha256);
      if (same) return same;
    }
    return entry.files[0]!;
  }

  loadMetadata(name: string, entry: VersionCandidates): Promise<CoreMetadata> {
    const candidate = this.chooseFile(name, entry);
    const key = candidate.file.url;
    let load = this.metadataLoads.get(key);
    if (!load) {
      const index = this.project(name).index!;
      const origin = { project: name, version: entry.version, filename: candidate.file.filename, index };
      load = this.index.getCoreMetadata({ index, name, files: [] }, candidate.file).then(async (doc: CoreMetadataDocument) => {
        const meta = parseCoreMetadata(doc.text, origin);
        if (candidate.kind !== 'sdist') return meta;
        const problem = sdistMetadataProblem(meta);
        if (!problem) return meta;
        if (!this.buildMetadata) throw this.needsBuild(name, entry, candidate, problem);
        // Dynamic metadata (PEP 643): what the built wheel says is what gets installed.
        const built = await this.buildMetadata({ name, version: entry.version, index, file: candidate.file });
        return parseCoreMetadata(built, { ...origin, filename: `the wheel built from ${candidate.file.filename}` });
      });
      this.metadataLoads.set(key, load);
      load.catch(() => this.metadataLoads.delete(key));
    }
    return load;
  }

  private needsBuild(name: string, entry: VersionCandidates, candidate: FileCandidate, problem: string) {
    const project = this.project(name);
    const withWheel = [...project.usable].reverse().find((v) => v.files.some((f) => f.kind === 'wheel'));
    const suggestions = [
      withWheel ? `pin a version that has a wheel for the target, e.g. "${name}==${withWheel.version}"` : undefined,
      `put ${name} in python onlyBinary so that only wheels are considered`,
      `publish a wheel of ${name} ${entry.version} to your index`,
    ].filter(Boolean);
    const chain = this.firstChain.get(name) ? ` (required through ${this.firstChain.get(name)})` : '';
    const message = `${name} ${entry.version} is only available as the sdist ${candidate.file.filename}, and ${problem}${chain}`;
    return inputError('python.needs-build', message, {
      hint: suggestions.join('; or '),
      data: { project: name, version: entry.version, file: candidate.file.filename },
    });
  }

  // -------------------------------------------------------------------------------------------------------
  // Fetching ahead

  private schedule(task: () => Promise<void>): void {
    this.prefetchQueue.schedule(task);
  }

  /** Fetches the page of `name` and then the metadata of the version most likely to be chosen, recursively. */
  prefetch(name: string, specifier: string, extras: readonly string[]): void {
    const key = `${name}\u0000${specifier}\u0000${extras.join(',')}`;
    if (this.prefetched.has(key)) return;
    this.prefetched.add(key);
    this.schedule(async () => {
      const project = await this.loadProject(name);
      const entry = this.likelyVersion(project, specifier);
      if (!entry) return;
      this.schedule(async () => {
        const meta = await this.loadMetadata(name, entry);
        for (const { requirement } of this.applicableRequirements(meta, extras)) {
          this.prefetch(requirement.normalizedName, requirement.specifier, requirement.extras);
        }
      });
    });
  }

  /** The version a requirement will most likely get: the kept pin, else the newest final (else pre-release). */
  private likelyVersion(project: ProjectCandidates, specifier: string): VersionCandidates | undefined {
    const set = this.versionSet(project.name, parseSpecifierSetOnce(specifier), specifier);
    const matches = listBits(set).map((i) => project.usable[i]!);
    const prev = this.previous.get(project.name);
    if (prev) {
      const kept = matches.find((v) => compareVersions(v.parsed, prev.version) === 0);
      if (kept) return kept;
    }
    const finals = matches.filter((v) => !v.prerelease && !v.yanked);
    return (finals.length > 0 ? finals : matches).at(-1);
  }

  // -------------------------------------------------------------------------------------------------------
  // Requirements → solver terms

  /** Requires-Dist entries that apply to the target, for the base package (no extras) or for its extras. */
  private applicableRequirements(meta: CoreMetadata, extras: readonly string[]): { requirement: Requirement; extraOnly: boolean }[] {
    const out: { requirement: Requirement; extraOnly: boolean }[] = [];
    const valid = extras.filter((e) => meta.providesExtra.includes(e));
    for (const requirement of meta.requiresDist) {
      if (!requirement.marker) {
        out.push({ requirement, extraOnly: false });
        continue;
      }
      const base = evaluateMarker(requirement.marker, this.markers);
      if (base) out.push({ requirement, extraOnly: false });
      else if (valid.length > 0 && evaluateMarker(requirement.marker, this.markers, { extras: valid })) out.push({ requirement, extraOnly: true });
    }
    return out;
  }

  /** The set of versions of `name` a specifier admits: any pre-release, yanked ones only when pinned. */
  private versionSet(name: string, specifier: SpecifierSet, text: string): bigint {
    const key = `${name}\u0000${text}`;
    let set = this.versionSets.get(key);
    if (set === undefined) {
      const usable = this.project(name).usable;
      const pinned = isPinned(specifier);
      const index = new Map(usable.map((v, i) => [v.parsed, i]));
      set = 0n;
      for (const version of filterVersions(
        usable.filter((v) => pinned || !v.yanked).map((v) => v.parsed),
        specifier,
        { prereleases: true },
      )) {
        set |= makeBit(index.get(version)!);
      }
      this.versionSets.set(key, set);
    }
    return set;
  }

  /** Why a requirement matches nothing: the classification code and a sentence for the explanation. */
  private explainEmpty(name: string, specifier: SpecifierSet): { code: string; text: string } {
    const project = completeCandidates(this.project(name));
    const spec = specifier.toString();
    const only = project.usable[0];
    if (this.direct.has(name) && only) return { code: 'no-match', text: `${name} is required by URL as ${only.version}, which does not match ${spec}` };
    if (!project.index) {
      return { code: 'not-found', text: `no index has a project named ${name}; asked ${project.indexesTried.join(', ')}` };
    }
    const all = [...project.usable, ...project.unusable].sort((a, b) => compareVersions(a.parsed, b.parsed));
    const matching = all.filter((v) => specifier.contains(v.parsed, { prereleases: true }));
    const usableMatching = matching.filter((v) => v.files.length > 0);
    if (usableMatching.length > 0 && usableMatching.every((v) => v.yanked)) {
      const reasons = usableMatching.map((v) => `${v.version}${v.yankedReason ? ` (${v.yankedReason})` : ''}`);
      return {
        code: 'no-match',
        text: `the only versions of ${name} matching ${spec || 'it'} are yanked: ${reasons.join(', ')}; pin one with == to use it anyway`,
      };
    }
    if (matching.length === 0) {
      const available = project.usable.map((v) => v.version);
      const existing = all.map((v) => v.version);
      return {
        code: 'no-match',
        text:
          available.length > 0
            ? `no version of ${name} matches ${spec}; usable versions: ${summarizeVersions(available)}`
            : existing.length > 0
              ? `no version of ${name} matches ${spec}, and no version has a file for ${this.fit.description}`
              : `${name} on ${project.index} lists no distribution files`,
      };
    }
    // Versions match, but none of their files is usable: say why, by the most telling reason.
    const skipped = matching.flatMap((v) => v.skipped);
    const kinds = new Set(skipped.map((s) => s.kind));
    const files = skipped.slice(0, 8).map((s) => `${s.filename}: ${s.reason}`);
    const more = skipped.length > files.length ? `; and ${skipped.length - files.length} more` : '';
    const versions = summarizeVersions(
      matching.map((v) => v.version),
      6,
    );
    if (kinds.has('hash')) {
      return { code: 'hash-mismatch', text: `no file of ${name} ${versions} has a sha256 in the --hash list: ${files.join('; ')}${more}` };
    }
    if (kinds.has('platform') || kinds.has('requires-python') || kinds.has('only-binary')) {
      return {
        code: 'no-compatible-file',
        text: `${name} ${versions} has no file for ${this.fit.description}: ${files.join('; ')}${more}`,
      };
    }
    return { code: 'no-match', text: `${name} ${versions} cannot be used: ${files.join('; ')}${more}` };
  }

  private constraintFor(name: string): Forbidden | undefined {
    const list = this.constraints.get(name);
    if (!list || this.constrained.has(name)) return undefined;
    this.constrained.add(name);
    const project = this.project(name);
    let forbidden = 0n;
    project.usable.forEach((v, i) => {
      if (!list.every((c) => c.specifier.contains(v.parsed, { prereleases: true }))) forbidden |= makeBit(i);
    });
    const text = list.map((c) => `${c.source} constrains ${c.text}`).join(' and ');
    return { pkg: name, set: forbidden, code: 'constraint', text: `${text}, which rules out ${this.formatSet(name, forbidden)}` };
  }

  private formatSet(name: string, set: bigint): string {
    const versions = listBits(set).map((i) => this.project(name).usable[i]!.version);
    return versions.length === 0 ? 'nothing' : `${name} ${summarizeVersions(versions, 6)}`;
  }

  /** Solver dependencies for a list of requirements of `from` (a package id, or the root). */
  private async toDependencies(
    from: string,
    requirements: { requirement: Requirement; source?: string; deploy?: boolean }[],
  ): Promise<{ dependencies: Dependency[]; forbidden: Forbidden[] }> {
    await Promise.all(requirements.map((r) => this.loadProject(r.requirement.normalizedName)));
    const fromDepth = from === ROOT ? 0 : (this.depth.get(from) ?? 1);
    const fromChain = from === ROOT ? undefined : (this.firstChain.get(from) ?? from);
    const dependencies: Dependency[] = [];
    const forbidden: Forbidden[] = [];
    for (const { requirement, source, deploy } of requirements) {
      const name = requirement.normalizedName;
      const specifier = parseSpecifierSetOnce(requirement.specifier);
      const set = this.versionSet(name, specifier, requirement.specifier);
      const meta: EdgeMeta = { specifier, impliesPre: specifier.impliesPrereleases === true };
      if (source !== undefined) meta.source = source;
      if (deploy !== undefined) meta.deploy = deploy;
      const ids = requirement.extras.length > 0 ? requirement.extras.map((e) => formatPackageId(name, e)) : [name];
      for (const id of ids) {
        const label = `${id}${requirement.specifier}`;
        const dep: Dependency = { pkg: id, set, label, meta };
        if (source !== undefined) dep.by = source;
        if (set === 0n) dep.empty = this.explainEmpty(name, specifier);
        dependencies.push(dep);
        const depth = fromDepth + 1;
        if (!this.depth.has(id) || this.depth.get(id)! > depth) this.depth.set(id, depth);
        if (!this.firstChain.has(id)) this.firstChain.set(id, fromChain ? `${fromChain} > ${id}` : `${source} > ${id}`);
        if (!this.firstChain.has(name)) this.firstChain.set(name, this.firstChain.get(id)!);
      }
      const constraint = this.constraintFor(name);
      if (constraint) forbidden.push(constraint);
      this.prefetch(name, requirement.specifier, requirement.extras);
    }
    return { dependencies, forbidden };
  }

  /** The first requirement chain through which a package was reached (`requirements.txt > app > lib`). */
  chainTo(pkg: string): string | undefined {
    return this.firstChain.get(pkg);
  }

  // -------------------------------------------------------------------------------------------------------
  // SolverProvider

  versions(pkg: string): readonly string[] {
    if (pkg === ROOT) return ['0'];
    return this.project(splitId(pkg).name).usable.map((v) => v.version);
  }

  displayName(pkg: string): string {
    return pkg === ROOT ? 'the requirements' : pkg;
  }

  pickPackage(candidates: readonly { pkg: string; allowed: bigint }[]): string {
    const key = (c: { pkg: string; allowed: bigint }) =>
      [
        countBits(c.allowed) === 1 ? 0 : 1,
        this.depth.get(c.pkg) ?? Number.MAX_SAFE_INTEGER,
        this.requestedOrder.get(c.pkg) ?? Number.MAX_SAFE_INTEGER,
      ] as const;
    let best = candidates[0]!;
    let bestKey = key(best);
    for (const c of candidates.slice(1)) {
      const k = key(c);
      const cmp = k[0] - bestKey[0] || k[1] - bestKey[1] || k[2] - bestKey[2] || (c.pkg < best.pkg ? -1 : c.pkg > best.pkg ? 1 : 0);
      if (cmp < 0) {
        best = c;
        bestKey = k;
      }
    }
    return best.pkg;
  }

  async chooseVersion(pkg: string, allowed: bigint, reasons: readonly unknown[], decided: ReadonlyMap<string, number>): Promise<ChooseResult> {
    if (pkg === ROOT) return { kind: 'version', version: 0 };
    const { name, extra } = splitId(pkg);
    const usable = this.project(name).usable;
    const indices = listBits(allowed).filter((i) => i < usable.length);
    if (indices.length === 0) return { kind: 'none', code: 'no-match', text: `no version of ${pkg} is left to try` };
    // `name[extra]` follows `name` when that is decided already.
    if (extra !== undefined && decided.has(name) && (allowed & makeBit(decided.get(name)!)) !== 0n) {
      return { kind: 'version', version: decided.get(name)! };
    }
    const prev = this.previous.get(name);
    if (prev) {
      const i = indices.find((j) => compareVersions(usable[j]!.parsed, prev.version) === 0);
      if (i !== undefined) return { kind: 'version', version: i };
    }
    const allowPre =
      this.request.options.pre === true ||
      reasons.some((r) => (r as EdgeMeta).impliesPre) ||
      (this.constraints.get(name) ?? []).some((c) => c.specifier.impliesPrereleases === true);
    for (let k = indices.length - 1; k >= 0; k -= 1) {
      const i = indices[k]!;
      if (allowPre || !usable[i]!.prerelease) return { kind: 'version', version: i };
    }
    // Only pre-releases are left: PEP 440 accepts them when they are the only versions that match.
    return { kind: 'version', version: indices[indices.length - 1]! };
  }

  async getDependencies(pkg: string, version: number): Promise<DependenciesResult> {
    const result = await this.dependenciesOf(pkg, version);
    if (result.kind === 'dependencies') this.edges.set(`${pkg}@${version}`, result.dependencies);
    return result;
  }

  private async dependenciesOf(pkg: string, version: number): Promise<DependenciesResult> {
    if (pkg === ROOT) {
      const reqs = this.roots.map((r) => ({ requirement: r.requirement, source: r.declared.source, deploy: r.declared.targets.includes('deploy') }));
      for (const r of this.roots) {
        const ids = r.requirement.extras.length
          ? r.requirement.extras.map((e) => formatPackageId(r.requirement.normalizedName, e))
          : [r.requirement.normalizedName];
        for (const id of ids) if (!this.requestedOrder.has(id)) this.requestedOrder.set(id, r.order);
      }
      // Constrained projects nobody requires still have to be known for their constraints to apply later.
      return { kind: 'dependencies', ...(await this.toDependencies(ROOT, reqs)) };
    }
    const { name, extra } = splitId(pkg);
    const entry = this.project(name).usable[version]!;
    let meta: CoreMetadata;
    try {
      meta = await this.loadMetadata(name, entry);
    } catch (err) {
      if (isEnvsealError(err) && err.code === 'pep508.marker.evaluation') {
        throw inputError('python.bad-metadata', `the metadata of ${name} ${entry.version} has a marker that cannot be evaluated: ${err.message}`, {
          hint: `exclude this release ("${name}!=${entry.version}") or pin another version`,
        });
      }
      throw err;
    }
    if (meta.requiresPython !== undefined && !parseSpecifierSetOnce(meta.requiresPython).contains(this.fit.pythonVersion, { prereleases: true })) {
      return {
        kind: 'unavailable',
        code: 'no-compatible-file',
        text: `${name} ${entry.version} requires Python ${meta.requiresPython}, and the target has ${this.fit.pythonVersion}`,
      };
    }
    let applicable: { requirement: Requirement; extraOnly: boolean }[];
    try {
      applicable = this.applicableRequirements(meta, extra === undefined ? [] : [extra]);
    } catch (err) {
      if (isEnvsealError(err)) {
        throw inputError('python.bad-metadata', `the metadata of ${name} ${entry.version} has a marker that cannot be evaluated: ${err.message}`, {
          hint: `exclude this release ("${name}!=${entry.version}") or pin another version`,
        });
      }
      throw err;
    }
    const reqs: { requirement: Requirement }[] = [];
    for (const { requirement, extraOnly } of applicable) {
      // `name[extra]` adds only what the extra adds; the base requirements come with `name` itself.
      if (extra !== undefined && !extraOnly) continue;
      if (requirement.normalizedName === name && requirement.extras.length === 0) {
        // A project requiring itself: fine when this version satisfies it, impossible otherwise.
        if (parseSpecifierSet(requirement.specifier).contains(entry.parsed, { prereleases: true })) continue;
        return { kind: 'unavailable', code: 'no-match', text: `${name} ${entry.version} requires ${name}${requirement.specifier}, which it does not satisfy` };
      }
      reqs.push({ requirement });
    }
    if (extra !== undefined && !meta.providesExtra.includes(extra)) {
      this.logger.warn(`${name} ${entry.version} does not provide the extra "${extra}"; ignoring it (as pip does)`);
    }
    const { dependencies, forbidden } = await this.toDependencies(pkg, reqs);
    if (extra !== undefined) {
      dependencies.unshift({
        pkg: name,
        set: makeBit(version),
        label: `${name}==${entry.version}`,
        meta: { specifier: parseSpecifierSet(`==${entry.version}`), impliesPre: false } satisfies EdgeMeta,
      });
    }
    return { kind: 'dependencies', dependencies, forbidden };
  }

  // -------------------------------------------------------------------------------------------------------
  // Result

  buildResult(decisions: Map<string, number>): LockedPythonPackage[] {
    const { via, deploy } = explainSolution(decisions, this.edges);

    const out: LockedPythonPackage[] = [];
    for (const [pkg, v] of decisions) {
      if (pkg === ROOT || splitId(pkg).extra !== undefined) continue;
      const project = this.project(pkg);
      const entry = project.usable[v]!;
      const candidate = this.chooseFile(pkg, entry);
      const file = candidate.file;
      const sha256 = file.hashes.sha256;
      if (!sha256) {
        throw inputError('python.no-hash', `the index ${project.index} gives no sha256 for ${file.filename}, so it cannot be pinned`, {
          hint: 'use an index that publishes sha256 digests (PEP 503 #sha256= fragments or PEP 691 hashes)',
        });
      }
      const deployed = deploy.has(pkg);
      out.push({
        name: pkg,
        version: entry.version,
        file: {
          filename: file.filename,
          url: file.url,
          sha256,
          ...(file.size !== undefined ? { size: file.size } : {}),
          ...(file.uploadTime !== undefined ? { uploadTime: file.uploadTime } : {}),
        },
        index: project.index!,
        ...(this.direct.has(pkg) ? { direct: true as const } : {}),
        via: [...(via.get(pkg) ?? [])].sort(),
        targets: deployed ? ['deploy', 'dev'] : ['dev'],
      });
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
}
