/**
 * A PubGrub version solver (Natalie Weizenbaum, "PubGrub: Next-Generation Version Solving", 2018; the
 * algorithm as documented in dart-lang/pub `doc/solver.md`): unit propagation over incompatibilities,
 * decisions, and conflict-driven clause learning with backjumping. Its derivation graph is what makes a
 * failure explainable ("because a 2.0 depends on b<1 and your requirements need b>=2, ...").
 *
 * The solver knows nothing about Python. A package is an id; its versions are a finite, ordered list (the
 * "universe") that the provider loads before any term mentions the package. A set of versions is a bitset
 * (bigint) over that universe, with one extra bit (index = universe size) standing for "not selected", so
 * that positive terms (`P ∈ S`) and negative terms (`P ∉ S`, which also holds when P is not selected) are
 * both plain sets and every relation the algorithm needs is a bit operation.
 */
import { internalError } from '../../../core/errors.js';

/** What an external (non-derived) incompatibility says, for reports and error classification. */
export type ExternalCause =
  | { kind: 'root' }
  | {
      /** `{depender ∈ S, dependee ∉ T}`: every version in S of the depender needs the dependee in T. */
      kind: 'dependency';
      /** How to print the requirement, e.g. `numpy>=1.22` or `torch[cuda]==2.1.0`. */
      label: string;
      /** Printed instead of the depender's term, e.g. `requirements.txt` for the root's requirements. */
      by?: string;
      /** Set when T is empty: why nothing matches (printed after the requirement, used to classify failures). */
      empty?: { code: string; text: string };
      /** Provider data handed back to `chooseVersion` (e.g. the specifier, for pre-release rules). */
      meta?: unknown;
    }
  | {
      /** `{P ∈ S}`: those versions cannot be used (metadata says so, or a constraint forbids them). */
      kind: 'unavailable';
      code: string;
      text: string;
    };

export type Cause = { kind: 'external'; external: ExternalCause } | { kind: 'derived'; left: Incompatibility; right: Incompatibility };

export interface Term {
  readonly pkg: string;
  /** Bitset over the package's universe plus the "not selected" bit. */
  readonly mask: bigint;
}

export interface Incompatibility {
  readonly id: number;
  readonly terms: readonly Term[];
  readonly cause: Cause;
}

export interface Dependency {
  pkg: string;
  /** Allowed versions (bits over the dependee's universe, without the "not selected" bit). */
  set: bigint;
  label: string;
  /** Printed instead of the depender (e.g. the file a root requirement came from). */
  by?: string;
  empty?: { code: string; text: string };
  meta?: unknown;
}

export interface Forbidden {
  pkg: string;
  /** Versions that may not be selected. */
  set: bigint;
  code: string;
  text: string;
}

export type DependenciesResult =
  { kind: 'dependencies'; dependencies: Dependency[]; forbidden?: Forbidden[] } | { kind: 'unavailable'; code: string; text: string };

export type ChooseResult = { kind: 'version'; version: number } | { kind: 'none'; code: string; text: string };

export interface SolverProvider {
  /** Display versions of a loaded package, ascending; bit i of a set is `versions(pkg)[i]`. */
  versions(pkg: string): readonly string[];
  /** How to print a package id (`numpy`, `transformers[torch]`). */
  displayName(pkg: string): string;
  /** Which undecided package to decide next (all have a positive derivation). */
  pickPackage(candidates: readonly { pkg: string; allowed: bigint }[]): string;
  /**
   * Picks a version among `allowed` (bits without "not selected"). `reasons` holds the `meta` of the
   * dependencies that currently require the package; `decided` tells which version other packages have.
   */
  chooseVersion(pkg: string, allowed: bigint, reasons: readonly unknown[], decided: ReadonlyMap<string, number>): Promise<ChooseResult>;
  /** The dependencies of one version; every package they name must be loaded when this resolves. */
  getDependencies(pkg: string, version: number): Promise<DependenciesResult>;
}

export interface Solution {
  /** package id → chosen version index, root included. */
  decisions: Map<string, number>;
}

/** Thrown (as a value inside `SolveFailure`) when no solution exists: `incompatibility` is the proof. */
export class SolveFailure extends Error {
  constructor(readonly incompatibility: Incompatibility) {
    super('version solving failed');
    this.name = 'SolveFailure';
  }
}

interface Assignment {
  readonly pkg: string;
  readonly mask: bigint;
  readonly level: number;
  /** null for a decision. */
  readonly cause: Incompatibility | null;
  readonly index: number;
  /** The package's accumulated mask before this assignment (restored on backtrack). */
  readonly before: bigint;
}

type Relation = 'satisfied' | 'contradicted' | 'inconclusive';

function makeBit(i: number): bigint {
  return 1n << BigInt(i);
}

/** Indices of the set bits of `mask`, ascending. */
export function listBits(mask: bigint): number[] {
  const out: number[] = [];
  let m = mask;
  let i = 0;
  while (m > 0n) {
    // Skip 32 zero bits at a time: sets over long universes are sparse more often than not.
    if ((m & 0xffffffffn) === 0n) {
      m >>= 32n;
      i += 32;
      continue;
    }
    if (m & 1n) out.push(i);
    m >>= 1n;
    i += 1;
  }
  return out;
}

export function countBits(mask: bigint): number {
  let n = 0;
  let m = mask;
  while (m > 0n) {
    m &= m - 1n;
    n += 1;
  }
  return n;
}

export class PubGrubSolver {
  readonly root: string;
  private readonly provider: SolverProvider;
  private readonly incompatibilities = new Map<string, Incompatibility[]>();
  private readonly assignments: Assignment[] = [];
  private readonly accumulated = new Map<string, bigint>();
  private readonly decided = new Map<string, number>();
  private readonly sizes = new Map<string, number>();
  /** Dependency incompatibilities by (depender, dependee, set, label), for merging versions with equal deps. */
  private readonly dependencyIndex = new Map<string, Incompatibility>();
  private level = 0;
  private nextId = 0;
  /** Counters, for logs and tests. */
  readonly stats = { decisions: 0, conflicts: 0, propagations: 0 };

  constructor(root: string, provider: SolverProvider) {
    this.root = root;
    this.provider = provider;
  }

  /** Runs the solver; throws `SolveFailure` when the requirements cannot be satisfied together. */
  async solve(): Promise<Solution> {
    const rootVersions = this.provider.versions(this.root);
    if (rootVersions.length !== 1) throw internalError('pubgrub.root', 'the root package must have exactly one version');
    // {not root}: the root must be selected (PubGrub's starting incompatibility).
    this.addIncompatibility(
      this.makeIncompatibility([{ pkg: this.root, mask: this.negate(this.root, makeBit(0)) }], { kind: 'external', external: { kind: 'root' } }),
    );
    let next: string | null = this.root;
    while (next !== null) {
      this.propagate(next);
      next = await this.decide();
    }
    return { decisions: new Map(this.decided) };
  }

  // -------------------------------------------------------------------------------------------------------
  // Sets

  private size(pkg: string): number {
    let n = this.sizes.get(pkg);
    if (n === undefined) {
      n = this.provider.versions(pkg).length;
      this.sizes.set(pkg, n);
    }
    return n;
  }

  private readonly fullMasks = new Map<string, bigint>();

  /** All versions plus "not selected". */
  private full(pkg: string): bigint {
    let mask = this.fullMasks.get(pkg);
    if (mask === undefined) {
      mask = makeBit(this.size(pkg) + 1) - 1n;
      this.fullMasks.set(pkg, mask);
    }
    return mask;
  }

  private noneBit(pkg: string): bigint {
    return (this.full(pkg) >> 1n) + 1n;
  }

  private negate(pkg: string, mask: bigint): bigint {
    return this.full(pkg) ^ mask;
  }

  isPositive(term: Term): boolean {
    return (term.mask & this.noneBit(term.pkg)) === 0n;
  }

  /** The versions a term allows (without the "not selected" bit). */
  versionsOf(term: Term): bigint {
    return term.mask & (this.noneBit(term.pkg) - 1n);
  }

  /** Whether a term allows every version (positive: any version; negative: none). */
  coversAll(term: Term): boolean {
    return this.versionsOf(term) === this.noneBit(term.pkg) - 1n;
  }

  // -------------------------------------------------------------------------------------------------------
  // Incompatibilities

  /** Builds an incompatibility, intersecting terms of the same package (terms are a conjunction). */
  private makeIncompatibility(terms: Term[], cause: Cause): Incompatibility {
    const byPkg = new Map<string, bigint>();
    for (const t of terms) {
      const prev = byPkg.get(t.pkg);
      byPkg.set(t.pkg, prev === undefined ? t.mask : prev & t.mask);
    }
    // A term that allows everything (e.g. `P ∉ ∅`: "P is not selected or has a version outside nothing") is
    // always true and says nothing; dropping it keeps "a depends on b>=9, which matches nothing" as `{a}`.
    let merged: Term[] = [...byPkg].filter(([pkg, mask]) => mask !== this.full(pkg)).map(([pkg, mask]) => ({ pkg, mask }));
    // A derived incompatibility that mentions the (always selected) root positively alongside other terms
    // says the same without it; dropping it gives shorter explanations (pub does the same).
    if (cause.kind === 'derived' && merged.length > 1) {
      const rootTerm = merged.find((t) => t.pkg === this.root);
      if (rootTerm && this.isPositive(rootTerm)) merged = merged.filter((t) => t !== rootTerm);
    }
    return { id: this.nextId++, terms: merged, cause };
  }

  private addIncompatibility(incompat: Incompatibility): void {
    for (const term of incompat.terms) {
      let list = this.incompatibilities.get(term.pkg);
      if (!list) {
        list = [];
        this.incompatibilities.set(term.pkg, list);
      }
      list.push(incompat);
    }
  }

  // -------------------------------------------------------------------------------------------------------
  // Partial solution

  private accumulatedOf(pkg: string): bigint {
    return this.accumulated.get(pkg) ?? this.full(pkg);
  }

  private relation(term: Term): Relation {
    const acc = this.accumulatedOf(term.pkg);
    if ((acc & ~term.mask) === 0n) return 'satisfied';
    if ((acc & term.mask) === 0n) return 'contradicted';
    return 'inconclusive';
  }

  private assign(pkg: string, mask: bigint, cause: Incompatibility | null): void {
    const before = this.accumulatedOf(pkg);
    this.assignments.push({ pkg, mask, level: this.level, cause, index: this.assignments.length, before });
    this.accumulated.set(pkg, before & mask);
  }

  private derive(pkg: string, mask: bigint, cause: Incompatibility): void {
    this.assign(pkg, mask, cause);
  }

  private decideVersion(pkg: string, version: number): void {
    this.level += 1;
    this.stats.decisions += 1;
    this.decided.set(pkg, version);
    this.assign(pkg, makeBit(version), null);
  }

  private backtrack(level: number): void {
    while (this.assignments.length > 0 && this.assignments[this.assignments.length - 1]!.level > level) {
      const a = this.assignments.pop()!;
      this.accumulated.set(a.pkg, a.before);
      if (a.cause === null) this.decided.delete(a.pkg);
    }
    this.level = level;
  }

  /** The first assignment at which the accumulated assignments of `pkg` satisfy `mask`. */
  private satisfier(pkg: string, mask: bigint): Assignment {
    let acc = this.full(pkg);
    for (const a of this.assignments) {
      if (a.pkg !== pkg) continue;
      acc &= a.mask;
      if ((acc & ~mask) === 0n) return a;
    }
    throw internalError('pubgrub.satisfier', `no assignment satisfies the term on ${pkg}`);
  }

  // -------------------------------------------------------------------------------------------------------
  // Unit propagation and conflict resolution

  private propagate(start: string): void {
    const changed = new Set<string>([start]);
    while (changed.size > 0) {
      const pkg: string = changed.values().next().value as string;
      changed.delete(pkg);
      const list = this.incompatibilities.get(pkg) ?? [];
      // Newest first: learned incompatibilities are more general and find conflicts sooner.
      for (let i = list.length - 1; i >= 0; i -= 1) {
        const incompat = list[i]!;
        this.stats.propagations += 1;
        const result = this.propagateIncompatibility(incompat);
        if (result === 'conflict') {
          const rootCause = this.resolveConflict(incompat);
          changed.clear();
          const derived = this.propagateIncompatibility(rootCause);
          if (typeof derived !== 'string') {
            throw internalError('pubgrub.propagate', 'the learned incompatibility did not derive an assignment after backjumping');
          }
          changed.add(derived);
          break;
        } else if (typeof result === 'string') {
          changed.add(result);
        }
      }
    }
  }

  private propagateIncompatibility(incompat: Incompatibility): 'conflict' | 'none' | string {
    let unsatisfied: Term | undefined;
    for (const term of incompat.terms) {
      const rel = this.relation(term);
      if (rel === 'contradicted') return 'none';
      if (rel === 'inconclusive') {
        if (unsatisfied) return 'none';
        unsatisfied = term;
      }
    }
    if (!unsatisfied) return 'conflict';
    this.derive(unsatisfied.pkg, this.negate(unsatisfied.pkg, unsatisfied.mask), incompat);
    return unsatisfied.pkg;
  }

  private isFailure(incompat: Incompatibility): boolean {
    if (incompat.terms.length === 0) return true;
    if (incompat.terms.length === 1) {
      const t = incompat.terms[0]!;
      return t.pkg === this.root && this.isPositive(t);
    }
    return false;
  }

  private resolveConflict(conflict: Incompatibility): Incompatibility {
    this.stats.conflicts += 1;
    let incompat = conflict;
    let isNew = false;
    while (!this.isFailure(incompat)) {
      let recentTerm: Term | undefined;
      let recentSatisfier: Assignment | undefined;
      let difference: bigint | null = null;
      let previousLevel = 1;
      for (const term of incompat.terms) {
        const sat = this.satisfier(term.pkg, term.mask);
        if (!recentSatisfier) {
          recentTerm = term;
          recentSatisfier = sat;
        } else if (recentSatisfier.index < sat.index) {
          previousLevel = Math.max(previousLevel, recentSatisfier.level);
          recentTerm = term;
          recentSatisfier = sat;
          difference = null;
        } else {
          previousLevel = Math.max(previousLevel, sat.level);
        }
        if (recentTerm === term) {
          // When the satisfier does not satisfy the term on its own, an earlier assignment satisfies the rest.
          const diff = recentSatisfier.mask & ~term.mask & this.full(term.pkg);
          difference = diff === 0n ? null : diff;
          if (difference !== null) {
            previousLevel = Math.max(previousLevel, this.satisfier(term.pkg, this.negate(term.pkg, difference)).level);
          }
        }
      }
      const satisfier = recentSatisfier!;
      if (previousLevel < satisfier.level || satisfier.cause === null) {
        this.backtrack(previousLevel);
        if (isNew) this.addIncompatibility(incompat);
        return incompat;
      }
      const terms: Term[] = [...incompat.terms.filter((t) => t !== recentTerm), ...satisfier.cause.terms.filter((t) => t.pkg !== satisfier.pkg)];
      if (difference !== null) terms.push({ pkg: satisfier.pkg, mask: this.negate(satisfier.pkg, difference) });
      incompat = this.makeIncompatibility(terms, { kind: 'derived', left: incompat, right: satisfier.cause });
      isNew = true;
    }
    throw new SolveFailure(incompat);
  }

  // -------------------------------------------------------------------------------------------------------
  // Decisions

  /** Packages with a positive derivation and no decision yet. */
  private undecided(): { pkg: string; allowed: bigint }[] {
    const out: { pkg: string; allowed: bigint }[] = [];
    for (const [pkg, acc] of this.accumulated) {
      if (this.decided.has(pkg)) continue;
      if ((acc & this.noneBit(pkg)) !== 0n) continue;
      out.push({ pkg, allowed: acc });
    }
    return out;
  }

  /** The `meta` of the dependency incompatibilities behind the current positive assignments of `pkg`. */
  private reasonsFor(pkg: string): unknown[] {
    const out: unknown[] = [];
    for (const a of this.assignments) {
      if (a.pkg !== pkg || !a.cause || a.cause.cause.kind !== 'external') continue;
      const ext = a.cause.cause.external;
      if (ext.kind === 'dependency' && ext.meta !== undefined) out.push(ext.meta);
    }
    return out;
  }

  private async decide(): Promise<string | null> {
    const candidates = this.undecided();
    if (candidates.length === 0) return null;
    const pkg = candidates.length === 1 ? candidates[0]!.pkg : this.provider.pickPackage(candidates);
    const allowed = candidates.find((c) => c.pkg === pkg)?.allowed;
    if (allowed === undefined) throw internalError('pubgrub.pick', `the provider picked ${pkg}, which is not undecided`);
    const choice = await this.provider.chooseVersion(pkg, allowed, this.reasonsFor(pkg), this.decided);
    if (choice.kind === 'none') {
      this.addIncompatibility(
        this.makeIncompatibility([{ pkg, mask: allowed }], { kind: 'external', external: { kind: 'unavailable', code: choice.code, text: choice.text } }),
      );
      return pkg;
    }
    const version = choice.version;
    if ((allowed & makeBit(version)) === 0n) throw internalError('pubgrub.choose', `the provider chose a version of ${pkg} outside the allowed set`);
    const deps = await this.provider.getDependencies(pkg, version);
    if (deps.kind === 'unavailable') {
      this.addIncompatibility(
        this.makeIncompatibility([{ pkg, mask: makeBit(version) }], { kind: 'external', external: { kind: 'unavailable', code: deps.code, text: deps.text } }),
      );
      return pkg;
    }
    let conflict = false;
    let violated: string | undefined;
    for (const f of deps.forbidden ?? []) {
      if (f.set === 0n) continue;
      const incompat = this.makeIncompatibility([{ pkg: f.pkg, mask: f.set }], {
        kind: 'external',
        external: { kind: 'unavailable', code: f.code, text: f.text },
      });
      this.addIncompatibility(incompat);
      // A limit on a package that already has assignments may be violated by them right away: then that
      // package's incompatibilities are where propagation has to look.
      if (this.relation(incompat.terms[0]!) === 'satisfied') violated ??= f.pkg;
    }
    for (const dep of deps.dependencies) {
      const incompat = this.addDependency(pkg, version, dep);
      if (incompat.terms.every((t) => t.pkg === pkg || this.relation(t) === 'satisfied')) conflict = true;
    }
    if (violated !== undefined) return violated;
    if (!conflict) this.decideVersion(pkg, version);
    return pkg;
  }

  /**
   * Adds `{pkg ∈ {version}, dep ∉ set}`. When other versions of `pkg` already have the same dependency,
   * the incompatibility covers all of them, which is what makes explanations say "a >=1.2,<=1.9 depends on
   * b<1" instead of listing every version.
   */
  private addDependency(pkg: string, version: number, dep: Dependency): Incompatibility {
    const key = `${pkg}\u0000${dep.pkg}\u0000${dep.set.toString(16)}\u0000${dep.label}\u0000${dep.by ?? ''}`;
    const previous = this.dependencyIndex.get(key);
    const dependerSet = (previous ? previous.terms.find((t) => t.pkg === pkg)!.mask : 0n) | makeBit(version);
    const external: ExternalCause = { kind: 'dependency', label: dep.label };
    if (dep.by !== undefined) external.by = dep.by;
    if (dep.empty) external.empty = dep.empty;
    if (dep.meta !== undefined) external.meta = dep.meta;
    const incompat = this.makeIncompatibility(
      [
        { pkg, mask: dependerSet },
        { pkg: dep.pkg, mask: this.negate(dep.pkg, dep.set) },
      ],
      { kind: 'external', external },
    );
    this.dependencyIndex.set(key, incompat);
    this.addIncompatibility(incompat);
    return incompat;
  }
}
