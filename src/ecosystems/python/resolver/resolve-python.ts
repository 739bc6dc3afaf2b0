/**
 * The Python resolver: declared requirements (ranges, extras, markers, constraints, `--hash` allow-lists)
 * → a complete closure pinned to one file per package, for the TARGET interpreter and platform.
 *
 * How it decides:
 *   - Solving is PubGrub (`pubgrub.ts`), which backtracks with learned incompatibilities and explains
 *     failures. Each project is a package whose universe is its usable versions for the target
 *     (`candidates.ts`); `name[extra]` is a package of its own whose version V depends on `name==V` plus
 *     the extra's requirements (what pip and uv do).
 *   - Choices match pip's on graphs without conflicts: the newest version every requirement admits;
 *     pre-releases only with `pre`, when a requirement names one, or when nothing else matches; yanked
 *     versions (PEP 592) only for requirements pinned with `==`/`===`; the file pip would pick. Packages
 *     are decided in pip's order: single-version sets first, then by depth from the requirements, then
 *     in the order the requirements were written.
 *   - Indexes: the first index (in order) that has a project is the only one used for it (uv's
 *     "first-index" strategy, which keeps a look-alike on a later index from shadowing it); `indexPins` send
 *     a project to one index only.
 *   - Stability: a previous pin (`previous`) is kept when it still satisfies everything, unless `upgrade`
 *     says to move it; the previous file is kept when the index still lists it.
 *   - Metadata comes from PEP 658 files, wheels, or sdists with static PEP 643 metadata; an sdist that
 *     needs a build to know its dependencies is `python.needs-build`.
 *   - A wheel required by URL (`request.direct`, fetched by the caller) is its project's only version and file:
 *     the project is pinned to a one-file page at the wheel's URL, and `excludeNewer` does not apply to it (the
 *     URL pins it; it has no upload time).
 *   - `excludeNewer` leaves out files uploaded later and files whose upload time the index does not give
 *     (they cannot be shown to be old enough, and the point is that re-resolving later gives the same
 *     answer); the explanation of an empty match says so.
 *
 * Where it differs from pip 23 (only on graphs with conflicts, where any valid solution is acceptable):
 * pip filters pre-releases once per project from the merged specifier, while here they are a preference,
 * so after backtracking past every final release a pre-release may be chosen where pip would fail; and a
 * yanked version pinned by `==` on one edge but not admitted by another edge's range is not used, where
 * pip would use it (PEP 592 allows both).
 *
 * While the solver works, pages and metadata that are likely to be needed next (the newest matching
 * version of every dependency) are fetched ahead in parallel, bounded by `concurrency`.
 */
import { silentLogger } from '../../../core/ports.js';
import { inputError } from '../../../core/errors.js';
import { IncompatibilityFormatter, classifyFailure, explainFailure } from './explain.js';
import { ROOT } from './package-ids.js';
import { PubGrubSolver, SolveFailure } from './pubgrub.js';
import { PythonProvider } from './python-provider.js';
import { describeTarget } from './target.js';
import type { ResolvePythonDeps, ResolvePythonRequest, ResolvePythonResult } from './types.js';

export type { ResolvePythonDeps, ResolvePythonRequest, ResolvePythonResult } from './types.js';

/** Failure classes, most specific first, for failures with no clash between requirements. */
const FAILURE_PRIORITY = ['hash-mismatch', 'no-compatible-file', 'no-match'];

const FAILURE_HINTS: Record<string, string> = {
  'not-found': 'check the spelling of the project name, or add the index that has it to python.indexes (or pin it with an index pin)',
  'no-match': 'loosen the version requirement, or check which versions the index has',
  'no-compatible-file': 'choose a version that publishes a wheel for this interpreter and platform, or a base image whose Python matches the wheels',
  'hash-mismatch': 'update the --hash values in the requirements file to the files the index serves (or remove them and let envseal pin the hashes)',
  unsatisfiable: 'relax one of the requirements named above so that they can agree, or add a constraint that steers the resolver',
};

/**
 * Resolves the requirements into a pinned closure for the target. Throws `python.unsatisfiable`,
 * `python.not-found`, `python.no-match`, `python.no-compatible-file`, `python.hash-mismatch`,
 * `python.needs-build`, `python.bad-metadata` (exit 2) or `index.unreachable` (exit 3).
 */
export async function resolvePython(request: ResolvePythonRequest, deps: ResolvePythonDeps): Promise<ResolvePythonResult> {
  const logger = deps.logger ?? silentLogger;
  const provider = new PythonProvider(request, deps);
  const solver = new PubGrubSolver(ROOT, provider);
  let decisions: Map<string, number>;
  try {
    decisions = (await solver.solve()).decisions;
  } catch (err) {
    if (!(err instanceof SolveFailure)) throw err;
    const formatter = new IncompatibilityFormatter(solver, provider);
    const lines = explainFailure(err.incompatibility, formatter);
    const cls = classifyFailure(err.incompatibility, solver, FAILURE_PRIORITY);
    const primary = cls.primary ? formatter.format(cls.primary) : undefined;
    const target = describeTarget(request.target);
    let message = `cannot resolve the Python requirements for ${target}: ${primary ?? lines[lines.length - 1]}`;
    if (cls.code === 'unsatisfiable') {
      message = `the Python requirements cannot be satisfied together for ${target}`;
      if (cls.clash) {
        const asks = cls.clash.requirements.map((leaf) => {
          const depender = leaf.terms.find((t) => solver.isPositive(t) && t.pkg !== ROOT);
          const chain = depender ? provider.chainTo(depender.pkg) : undefined;
          return `${formatter.format(leaf)}${chain ? ` (${depender!.pkg} comes from ${chain})` : ''}`;
        });
        message += `: they need incompatible versions of ${provider.displayName(cls.clash.pkg)}: ${asks.join('; ')}`;
      }
    }
    // A one-step failure is already said in full by the message.
    const details = lines.length === 1 && primary !== undefined && lines[0] === `${primary}.` ? [] : lines;
    throw inputError(`python.${cls.code}`, message, {
      hint: FAILURE_HINTS[cls.code],
      details,
      data: { explanation: lines },
    });
  }
  logger.debug(`python resolution: ${solver.stats.decisions} decisions, ${solver.stats.conflicts} conflicts`);
  return { packages: provider.buildResult(decisions) };
}
