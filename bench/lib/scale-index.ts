/**
 * A generated index of N small pure-Python projects for scaling measurements (lock time vs number of
 * packages, verify on a large lock). Project i has three releases and depends on up to two projects with a
 * lower number, so the graph is connected and a resolver walks real edges; the root requires all N, so the
 * closure is exactly N packages. Deterministic: same N, same bytes.
 */
import type { FileSpec } from '../../test/lab/index-server.js';
import { buildWheel } from '../../test/lab/wheel.js';

export interface ScaleIndex {
  projects: Record<string, FileSpec[]>;
  requirements: string[];
  fileCount: number;
}

const nameOf = (i: number) => `pkg${String(i).padStart(4, '0')}`;

export function generateScaleIndex(count: number): ScaleIndex {
  const projects: Record<string, FileSpec[]> = {};
  let fileCount = 0;
  for (let i = 0; i < count; i++) {
    const name = nameOf(i);
    const deps = [i - 1, Math.floor(i / 2) - 1].filter((d, k, all) => d >= 0 && all.indexOf(d) === k).map((d) => `${nameOf(d)}>=1.0`);
    projects[name] = ['1.0.0', '1.1.0', '2.0.0'].map((version) => {
      const wheel = buildWheel({ name, version, requiresDist: deps, files: { [`${name}/__init__.py`]: `VERSION = '${version}'\n` } });
      fileCount++;
      return { filename: wheel.filename, bytes: wheel.bytes, metadata: wheel.metadata };
    });
  }
  return { projects, requirements: Object.keys(projects).map((n) => `${n}>=1.0`), fileCount };
}
