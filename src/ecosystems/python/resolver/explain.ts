/**
 * Turning a PubGrub failure into text a person can act on, following the error-reporting part of the
 * PubGrub design (dart-lang/pub `doc/solver.md`, "Error Reporting"): walk the derivation graph from the
 * final incompatibility, print one "Because …, …" sentence per derivation, number the conclusions that are
 * used more than once and refer back to them, and collapse chains of single derivations.
 *
 * Also classifies the failure so that the CLI can give a stable error code: a project missing from every
 * index, a requirement nothing matches, no file for the target, or a real clash between requirements.
 */
import type { Cause, ExternalCause, Incompatibility, PubGrubSolver, SolverProvider, Term } from './pubgrub.js';
import { listBits } from './pubgrub.js';

/** Formats terms and incompatibilities of one solver run. */
export class IncompatibilityFormatter {
  constructor(
    private readonly solver: PubGrubSolver,
    private readonly provider: SolverProvider,
  ) {}

  /** `numpy>=1.22,<=1.26.4`, `torch==2.1.0`, `every version of a` for a set of versions of a package. */
  formatVersions(pkg: string, set: bigint, options: { every?: boolean } = {}): string {
    const name = this.provider.displayName(pkg);
    const versions = this.provider.versions(pkg);
    const indices = listBits(set);
    if (indices.length === versions.length) return options.every ? `every version of ${name}` : name;
    if (indices.length === 0) return `${name} (no version)`;
    // Runs of consecutive versions print as ranges over the versions that exist.
    const runs: [number, number][] = [];
    for (const i of indices) {
      const last = runs[runs.length - 1];
      if (last && last[1] === i - 1) last[1] = i;
      else runs.push([i, i]);
    }
    if (runs.length > 6) {
      // A scattered set (what is left after many conflicts) reads better as a count and its ends.
      return `${name} (${indices.length} versions: ${versions[indices[0]!]}, ${versions[indices[1]!]}, …, ${versions[indices[indices.length - 1]!]})`;
    }
    const parts = runs.map(([lo, hi]) => {
      if (lo === hi) return `==${versions[lo]}`;
      if (lo === 0) return `<=${versions[hi]}`;
      if (hi === versions.length - 1) return `>=${versions[lo]}`;
      return `>=${versions[lo]},<=${versions[hi]}`;
    });
    return parts.length === 1 ? `${name}${parts[0]}` : `${name} (${parts.join(' or ')})`;
  }

  /** A positive term as a requirement: `a>=1`; a negative one by the versions it excludes. */
  private positive(term: Term, every = false): string {
    return this.formatVersions(term.pkg, this.solver.versionsOf(term), { every });
  }

  /** The requirement a negative term expresses once inverted: `P ∉ S` inverted is `P ∈ S`. */
  private inverted(term: Term): string {
    const all = (1n << BigInt(this.provider.versions(term.pkg).length)) - 1n;
    return this.formatVersions(term.pkg, all & ~this.solver.versionsOf(term));
  }

  private isRoot(term: Term): boolean {
    return term.pkg === this.solver.root;
  }

  /** One incompatibility as a sentence fragment. */
  format(incompat: Incompatibility): string {
    const cause = incompat.cause;
    if (cause.kind === 'external') return this.formatExternal(incompat, cause.external);
    return this.formatTerms(incompat.terms);
  }

  private formatExternal(incompat: Incompatibility, external: ExternalCause): string {
    switch (external.kind) {
      case 'root':
        return 'the requirements must be installed';
      case 'unavailable':
        return external.text;
      case 'dependency': {
        const depender = incompat.terms.find((t) => this.solver.isPositive(t));
        const subject = external.by ?? (depender && !this.isRoot(depender) ? this.positive(depender, true) : 'the requirements');
        const verb = external.by !== undefined || !depender || this.isRoot(depender) ? 'requires' : 'depends on';
        const tail = external.empty ? ` (${external.empty.text})` : '';
        return `${subject} ${verb} ${external.label}${tail}`;
      }
    }
  }

  private formatTerms(terms: readonly Term[]): string {
    const positives = terms.filter((t) => this.solver.isPositive(t));
    const negatives = terms.filter((t) => !this.solver.isPositive(t));
    if (terms.length === 0) return 'no set of versions works';
    if (terms.length === 1) {
      const t = terms[0]!;
      if (this.solver.isPositive(t)) {
        if (this.isRoot(t)) return 'the requirements cannot be satisfied together';
        return this.solver.coversAll(t) ? `no version of ${this.provider.displayName(t.pkg)} can be used` : `${this.positive(t)} cannot be used`;
      }
      return `${this.inverted(t)} is required`;
    }
    if (positives.length === 1 && negatives.length === 1) {
      const p = positives[0]!;
      const n = negatives[0]!;
      if (this.isRoot(p)) return `the requirements need ${this.inverted(n)}`;
      return `${this.positive(p, true)} requires ${this.inverted(n)}`;
    }
    if (negatives.length === 0) {
      if (positives.length === 2) return `${this.positive(positives[0]!)} is incompatible with ${this.positive(positives[1]!)}`;
      return `these cannot all be selected: ${positives.map((t) => this.positive(t)).join(', ')}`;
    }
    if (positives.length === 0) return `one of these is required: ${negatives.map((t) => this.inverted(t)).join(', ')}`;
    return `if ${positives.map((t) => this.positive(t)).join(' and ')} then ${negatives.map((t) => this.inverted(t)).join(' or ')}`;
  }
}

interface Line {
  text: string;
  number?: number;
}

/**
 * The explanation of a failure, one sentence per line, numbered where a later line refers back:
 *   Because every version of a depends on b<1 and requirements.txt requires b>=2, no version of a can be used.
 *   And because requirements.txt requires a, the requirements cannot be satisfied together.
 */
export function explainFailure(failure: Incompatibility, formatter: IncompatibilityFormatter): string[] {
  const derivationCount = new Map<number, number>();
  const countDerivations = (incompat: Incompatibility): void => {
    const seen = derivationCount.get(incompat.id);
    derivationCount.set(incompat.id, (seen ?? 0) + 1);
    if (seen !== undefined) return; // its causes were counted the first time
    if (incompat.cause.kind === 'derived') {
      countDerivations(incompat.cause.left);
      countDerivations(incompat.cause.right);
    }
  };
  countDerivations(failure);

  const lines: Line[] = [];
  const lineNumbers = new Map<number, number>();
  let nextNumber = 1;
  const f = (i: Incompatibility) => formatter.format(i);
  const ref = (i: Incompatibility) => {
    const n = lineNumbers.get(i.id);
    return n === undefined ? f(i) : `${f(i)} (${n})`;
  };
  const write = (incompat: Incompatibility, text: string, numbered: boolean) => {
    if (numbered && !lineNumbers.has(incompat.id)) {
      const number = nextNumber++;
      lineNumbers.set(incompat.id, number);
      lines.push({ text, number });
    } else {
      lines.push({ text });
    }
  };
  const isDerived = (c: Cause): c is Extract<Cause, { kind: 'derived' }> => c.kind === 'derived';
  const isSingleLine = (c: Extract<Cause, { kind: 'derived' }>) => !isDerived(c.left.cause) && !isDerived(c.right.cause);

  const visit = (incompat: Incompatibility, conclusion = false): void => {
    const cause = incompat.cause;
    if (!isDerived(cause)) {
      lines.push({ text: `${f(incompat)}.` });
      return;
    }
    const numbered = conclusion || (derivationCount.get(incompat.id) ?? 0) > 1;
    const { left, right } = cause;
    if (isDerived(left.cause) && isDerived(right.cause)) {
      const leftLine = lineNumbers.get(left.id);
      const rightLine = lineNumbers.get(right.id);
      if (leftLine !== undefined && rightLine !== undefined) {
        write(incompat, `Because ${ref(left)} and ${ref(right)}, ${f(incompat)}.`, numbered);
      } else if (leftLine !== undefined || rightLine !== undefined) {
        const withLine = leftLine !== undefined ? left : right;
        const withoutLine = leftLine !== undefined ? right : left;
        visit(withoutLine);
        write(incompat, `And because ${ref(withLine)}, ${f(incompat)}.`, numbered);
      } else {
        const leftSingle = isSingleLine(left.cause as Extract<Cause, { kind: 'derived' }>);
        const rightSingle = isSingleLine(right.cause as Extract<Cause, { kind: 'derived' }>);
        if (leftSingle || rightSingle) {
          const first = leftSingle ? right : left;
          const second = leftSingle ? left : right;
          visit(first);
          visit(second);
          write(incompat, `Thus, ${f(incompat)}.`, numbered);
        } else {
          visit(left, true);
          visit(right);
          write(incompat, `And because ${ref(left)}, ${f(incompat)}.`, numbered);
        }
      }
    } else if (isDerived(left.cause) || isDerived(right.cause)) {
      const derived = isDerived(left.cause) ? left : right;
      const external = isDerived(left.cause) ? right : left;
      const derivedLine = lineNumbers.get(derived.id);
      const derivedCause = derived.cause as Extract<Cause, { kind: 'derived' }>;
      if (derivedLine !== undefined) {
        write(incompat, `Because ${f(external)} and ${ref(derived)}, ${f(incompat)}.`, numbered);
      } else if ((derivationCount.get(derived.id) ?? 0) <= 1 && isDerived(derivedCause.left.cause) !== isDerived(derivedCause.right.cause)) {
        // "Because X and Y, Z" where Z's own derivation is one derived step plus an external fact: fold it.
        const priorDerived = isDerived(derivedCause.left.cause) ? derivedCause.left : derivedCause.right;
        const priorExternal = isDerived(derivedCause.left.cause) ? derivedCause.right : derivedCause.left;
        visit(priorDerived);
        write(incompat, `And because ${f(priorExternal)} and ${f(external)}, ${f(incompat)}.`, numbered);
      } else {
        visit(derived);
        write(incompat, `And because ${f(external)}, ${f(incompat)}.`, numbered);
      }
    } else {
      write(incompat, `Because ${f(left)} and ${f(right)}, ${f(incompat)}.`, numbered);
    }
  };
  visit(failure, true);

  // Only lines referred to later keep their numbers.
  const referred = new Set<number>();
  for (const line of lines) for (const m of line.text.matchAll(/\((\d+)\)/g)) referred.add(Number(m[1]));
  return lines.map((l) => (l.number !== undefined && referred.has(l.number) ? `(${l.number}) ${l.text}` : l.text));
}

/** The external facts a failure rests on (the leaves of its derivation graph), each once. */
export function collectExternalCauses(failure: Incompatibility): Incompatibility[] {
  const out: Incompatibility[] = [];
  const seen = new Set<number>();
  const walk = (i: Incompatibility): void => {
    if (seen.has(i.id)) return;
    seen.add(i.id);
    if (i.cause.kind === 'derived') {
      walk(i.cause.left);
      walk(i.cause.right);
    } else {
      out.push(i);
    }
  };
  walk(failure);
  return out;
}

export interface FailureClass {
  /** `not-found`, `no-match`, `no-compatible-file`, `hash-mismatch`, ... or `unsatisfiable`. */
  code: string;
  /** The external fact behind a specific code, when there is one. */
  primary?: Incompatibility;
  /** For `unsatisfiable`: the package asked for in incompatible ways, and the requirements that ask. */
  clash?: { pkg: string; requirements: Incompatibility[] };
}

/**
 * Classifies a failure by its external facts: a missing project anywhere on the failing path wins (it is
 * almost always a typo or a missing index); then two requirements that ask for different versions of one
 * package make it a clash (`unsatisfiable`); otherwise the single kind of "nothing available" behind it.
 */
export function classifyFailure(failure: Incompatibility, solver: PubGrubSolver, priority: readonly string[]): FailureClass {
  const leaves = collectExternalCauses(failure);
  const emptyOf = (i: Incompatibility) => (i.cause.kind === 'external' && i.cause.external.kind === 'dependency' ? i.cause.external.empty : undefined);
  const notFound = leaves.find((i) => emptyOf(i)?.code === 'not-found');
  if (notFound) return { code: 'not-found', primary: notFound };

  // A clash: one package is required with two different (non-empty) sets, or required and limited.
  const demands = new Map<string, { keys: Set<string>; leaves: Incompatibility[] }>();
  const demand = (pkg: string, key: string, leaf: Incompatibility) => {
    const d = demands.get(pkg) ?? { keys: new Set<string>(), leaves: [] };
    d.keys.add(key);
    d.leaves.push(leaf);
    demands.set(pkg, d);
  };
  for (const leaf of leaves) {
    if (leaf.cause.kind !== 'external') continue;
    const ext = leaf.cause.external;
    if (ext.kind === 'dependency' && !ext.empty) {
      const dependee = leaf.terms.find((t) => !solver.isPositive(t));
      if (dependee) demand(dependee.pkg, solver.versionsOf(dependee).toString(16), leaf);
    }
  }
  for (const leaf of leaves) {
    if (leaf.cause.kind === 'external' && leaf.cause.external.kind === 'unavailable' && leaf.cause.external.code === 'constraint') {
      const pkg = leaf.terms[0]?.pkg;
      if (pkg !== undefined && demands.has(pkg)) demand(pkg, 'constraint', leaf);
    }
  }
  for (const [pkg, d] of demands) {
    if (d.keys.size > 1) return { code: 'unsatisfiable', clash: { pkg, requirements: d.leaves } };
  }

  const specific: { code: string; leaf: Incompatibility }[] = [];
  for (const leaf of leaves) {
    if (leaf.cause.kind !== 'external') continue;
    const ext = leaf.cause.external;
    if (ext.kind === 'dependency' && ext.empty) specific.push({ code: ext.empty.code, leaf });
    else if (ext.kind === 'unavailable' && ext.code !== 'constraint') specific.push({ code: ext.code, leaf });
  }
  for (const code of priority) {
    const hit = specific.find((s) => s.code === code);
    if (hit) return { code, primary: hit.leaf };
  }
  return { code: 'unsatisfiable' };
}
