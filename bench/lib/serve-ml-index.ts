/**
 * Serves the generated ML-shaped index (bench/lib/ml-index.ts) on loopback in its own process, so that
 * serving costs no CPU time in the process being measured. Prints one JSON line `{url, htmlUrl, projects,
 * files}` when ready and serves until stdin closes or a signal arrives.
 *
 *   node --import tsx bench/lib/serve-ml-index.ts [--trap] [--seed N] [--latency-ms N] [--scale N]
 *
 * `--scale N` serves bench/lib/scale-index.ts's N small projects instead (lock and verify vs lock size).
 * `--latency-ms` delays every answer (pages, metadata, files) by N ms, like an index across a network.
 * `url` is the PEP 691/503 index; `htmlUrl` an HTML-only view of it for pip 23.0.1 (see
 * test/fixtures/resolve/pip-oracle.ts for why).
 *
 * Caching headers are PyPI's, and pip and envseal get the same server (the HTML view passes them through):
 * PyPI answers `/simple/<project>/` with `Cache-Control: max-age=600, public` and an ETag (e.g.
 * `curl -sI https://pypi.org/simple/numpy/`, quoted in pulp/pulp_python#1254 and pytorch/test-infra#6188), and
 * files under files.pythonhosted.org with a long max-age (`immutable`); test/lab/index-server.ts sends the
 * same, plus 304 to `If-None-Match`. What each client does with them is its own: pip 23 asks for index pages
 * with `Cache-Control: max-age=0` (pypa/pip#5670), so its warm run revalidates every page; envseal honours the
 * ten minutes (RFC 9111), so within them a warm lock asks the index nothing.
 */
import { startIndex } from '../../test/lab/index-server.js';
import { startHtmlView } from '../../test/fixtures/resolve/pip-oracle.js';
import { generateMlIndex } from './ml-index.js';
import { generateScaleIndex } from './scale-index.js';

const args = process.argv.slice(2);
const seedAt = args.indexOf('--seed');
const scaleAt = args.indexOf('--scale');
const index =
  scaleAt >= 0
    ? generateScaleIndex(Number(args[scaleAt + 1]))
    : generateMlIndex({ trap: args.includes('--trap'), ...(seedAt >= 0 ? { seed: Number(args[seedAt + 1]) } : {}) });
const latencyAt = args.indexOf('--latency-ms');
const latencyMs = latencyAt >= 0 ? Number(args[latencyAt + 1]) : 0;
const server = await startIndex({ projects: index.projects });
if (latencyMs > 0) server.setFault({ delayMs: latencyMs });
const html = await startHtmlView(server.url);
process.stdout.write(
  `${JSON.stringify({ url: server.url, htmlUrl: html.url, projects: Object.keys(index.projects).length, files: index.fileCount, requirements: index.requirements })}\n`,
);

const stop = () => {
  void Promise.all([html.close(), server.close()]).finally(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.resume();
