/**
 * One resolution through the library, in a fresh process: what `envseal lock` does for Python, without
 * the CLI around it. Prints one JSON line: `{ms, cpuMs, packages, stats}` where `ms` is the time from the
 * first index request to the result (module loading excluded) and `packages` the closure.
 *
 *   node --import tsx bench/lib/resolve-once.ts <job.json>
 *   job: { indexUrl, cacheDir, requirements: string[], target: TargetProbe }
 */
import { readFileSync } from 'node:fs';
import type { TargetProbe } from '../../src/core/ground.js';
import { PythonIndexClient } from '../../src/ecosystems/python/index-client/python-index.js';
import { resolvePython } from '../../src/ecosystems/python/resolver/resolve-python.js';

interface Job {
  indexUrl: string;
  cacheDir: string;
  requirements: string[];
  target: TargetProbe;
}

const job = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as Job;
const client = new PythonIndexClient({ cacheDir: job.cacheDir });
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const result = await resolvePython(
  {
    requirements: job.requirements.map((requirement) => ({
      requirement,
      hashes: [],
      source: 'requirements.txt',
      kind: 'requirement',
      targets: ['deploy', 'dev'],
    })),
    indexes: [job.indexUrl],
    target: job.target,
    options: {},
  },
  { index: client },
);
const ms = performance.now() - t0;
await client.flush();
const cpu = process.cpuUsage(cpu0);
process.stdout.write(
  `${JSON.stringify({ ms, cpuMs: (cpu.user + cpu.system) / 1000, packages: result.packages.map((p) => `${p.name}==${p.version} ${p.file.filename}`), stats: client.stats })}\n`,
);
