/**
 * The lab's fixture Python index: the files `.ci/lab-up` puts behind http://127.0.0.1:5080/simple.
 *
 * A few small pure-Python projects that an example ML project can depend on, with what a resolver has to
 * handle in real life: several versions, version ranges, environment markers (one true on Linux, one false),
 * an extra whose dependency points back at its parent (a cycle), a yanked release, Requires-Python, and an
 * sdist-only project with static (PEP 643) metadata. Plus the real upstream wheels Debian ships on this host
 * (`/usr/share/python-wheels`: pip, setuptools, wheel when installed); nothing is downloaded.
 *
 * Deterministic: the built files are byte-identical on every run and every machine (stored ZIP entries,
 * fixed timestamps); the host wheels are copied as they are.
 *
 * CLI: node --import tsx test/lab/fixtures-index.ts --out <dir> [--host-wheels <dir>|--no-host-wheels]
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isMainModule } from './entry.js';
import { buildSdist, buildWheel, parseDistFilename, type SdistSpec, type WheelSpec } from './wheel.js';

export const HOST_WHEELS_DIR = '/usr/share/python-wheels';

export interface FixtureFile {
  filename: string;
  bytes: Buffer;
  /** Written as `<filename>.yanked` so the directory index yanks the file (PEP 592); the text is the reason. */
  yankedReason?: string;
}

const module = (lines: string[]) => `${lines.join('\n')}\n`;

/** The lab's own wheels. Each project's module does a little real work so an example can import and use it. */
export const FIXTURE_WHEELS: (WheelSpec & { yankedReason?: string })[] = [
  {
    name: 'tinyconfig',
    version: '1.0.0',
    summary: 'Parse key=value configuration text',
    requiresPython: '>=3.7',
    files: {
      'tinyconfig/__init__.py': module([
        '"""Parse key=value configuration text (envseal test lab fixture)."""',
        '__version__ = "1.0.0"',
        '',
        'def loads(text):',
        '    out = {}',
        '    for line in text.splitlines():',
        '        line = line.split("#", 1)[0].strip()',
        '        if line:',
        '            key, _, value = line.partition("=")',
        '            out[key.strip()] = value.strip()',
        '    return out',
      ]),
    },
  },
  {
    name: 'tinyconfig',
    version: '1.1.0',
    summary: 'Parse key=value configuration text',
    requiresPython: '>=3.8',
    files: {
      'tinyconfig/__init__.py': module([
        '"""Parse key=value configuration text, with typed values (envseal test lab fixture)."""',
        '__version__ = "1.1.0"',
        '',
        'def _convert(value):',
        '    for kind in (int, float):',
        '        try:',
        '            return kind(value)',
        '        except ValueError:',
        '            pass',
        '    return value',
        '',
        'def loads(text):',
        '    out = {}',
        '    for line in text.splitlines():',
        '        line = line.split("#", 1)[0].strip()',
        '        if line:',
        '            key, _, value = line.partition("=")',
        '            out[key.strip()] = _convert(value.strip())',
        '    return out',
      ]),
    },
  },
  {
    name: 'seal-utils',
    version: '0.9.0',
    summary: 'Small numeric helpers',
    requiresDist: ['tinyconfig>=1.0'],
    files: {
      'seal_utils/__init__.py': module([
        '"""Small numeric helpers (envseal test lab fixture)."""',
        '__version__ = "0.9.0"',
        '',
        'def mean(values):',
        '    values = list(values)',
        '    return sum(values) / len(values)',
      ]),
    },
  },
  {
    name: 'seal-utils',
    version: '1.0.0',
    summary: 'Small numeric helpers',
    requiresDist: ['tinyconfig>=1.1'],
    files: {
      'seal_utils/__init__.py': module([
        '"""Small numeric helpers (envseal test lab fixture)."""',
        '__version__ = "1.0.0"',
        '',
        'def mean(values):',
        '    values = list(values)',
        '    return sum(values) / len(values)',
        '',
        'def clip(value, low, high):',
        '    return max(low, min(high, value))',
      ]),
    },
  },
  {
    name: 'seal-utils',
    version: '1.0.1',
    summary: 'Small numeric helpers',
    requiresDist: ['tinyconfig>=1.1'],
    yankedReason: 'broken import, use 1.0.0',
    files: { 'seal_utils/__init__.py': module(['raise ImportError("seal-utils 1.0.1 was yanked")']) },
  },
  {
    name: 'seal-metrics',
    version: '1.0.0',
    summary: 'Classification metrics',
    requiresDist: ['seal-utils>=0.9'],
    files: {
      'seal_metrics/__init__.py': module([
        '"""Classification metrics (envseal test lab fixture)."""',
        '__version__ = "1.0.0"',
        '',
        'def accuracy(y_true, y_pred):',
        '    pairs = list(zip(y_true, y_pred))',
        '    return sum(1 for t, p in pairs if t == p) / len(pairs)',
      ]),
    },
  },
  {
    name: 'seal-metrics',
    version: '1.1.0',
    summary: 'Classification metrics',
    requiresPython: '>=3.8',
    providesExtra: ['plot'],
    requiresDist: [
      'seal-utils<2,>=1.0',
      'tinyconfig>=1.1; python_version >= "3.8"',
      'colorama-lite>=0.4; sys_platform == "win32"',
      'seal-plot>=0.1; extra == "plot"',
    ],
    files: {
      'seal_metrics/__init__.py': module([
        '"""Classification metrics (envseal test lab fixture)."""',
        'from seal_utils import mean',
        '__version__ = "1.1.0"',
        '',
        'def accuracy(y_true, y_pred):',
        '    return mean(1.0 if t == p else 0.0 for t, p in zip(y_true, y_pred))',
        '',
        'def confusion(y_true, y_pred):',
        '    out = {}',
        '    for t, p in zip(y_true, y_pred):',
        '        out[(t, p)] = out.get((t, p), 0) + 1',
        '    return out',
      ]),
    },
  },
  {
    name: 'seal-plot',
    version: '0.1.0',
    summary: 'Text plots for seal-metrics',
    requiresDist: ['seal-metrics>=1.0'],
    files: {
      'seal_plot/__init__.py': module([
        '"""Text plots for seal-metrics (envseal test lab fixture)."""',
        '__version__ = "0.1.0"',
        '',
        'def bar(value, width=20):',
        '    filled = int(round(value * width))',
        '    return "#" * filled + "." * (width - filled)',
      ]),
    },
  },
];

/** Projects published only as an sdist with static metadata (Metadata-Version 2.2, no Dynamic fields). */
export const FIXTURE_SDISTS: SdistSpec[] = [
  {
    name: 'seal-legacy',
    version: '0.5.0',
    summary: 'An sdist-only project with static metadata',
    requiresDist: ['tinyconfig>=1.0'],
  },
];

/** Builds the fixture files (and picks up the host's upstream wheels unless `hostWheelsDir` is null). */
export function buildFixtureFiles(options: { hostWheelsDir?: string | null } = {}): FixtureFile[] {
  const files: FixtureFile[] = [];
  for (const spec of FIXTURE_WHEELS) {
    const { yankedReason, ...wheelSpec } = spec;
    const wheel = buildWheel(wheelSpec);
    files.push({ filename: wheel.filename, bytes: wheel.bytes, ...(yankedReason ? { yankedReason } : {}) });
  }
  for (const spec of FIXTURE_SDISTS) {
    const sdist = buildSdist(spec);
    files.push({ filename: sdist.filename, bytes: sdist.bytes });
  }
  const hostDir = options.hostWheelsDir === undefined ? HOST_WHEELS_DIR : options.hostWheelsDir;
  if (hostDir && existsSync(hostDir)) {
    for (const name of readdirSync(hostDir).sort()) {
      if (parseDistFilename(name)?.kind !== 'wheel') continue;
      if (files.some((f) => f.filename === name)) continue;
      files.push({ filename: name, bytes: readFileSync(join(hostDir, name)) });
    }
  }
  return files;
}

export interface WriteResult {
  files: string[];
  written: string[];
  removed: string[];
}

/**
 * Makes `dir` hold exactly the fixture files (plus `.yanked` sidecars): writes only what differs (temp file +
 * rename, so the running index never reads half a file) and removes distribution files no longer listed.
 */
export function writeFixtureIndex(dir: string, options: { hostWheelsDir?: string | null } = {}): WriteResult {
  mkdirSync(dir, { recursive: true });
  const wanted = new Map<string, Buffer>();
  for (const file of buildFixtureFiles(options)) {
    wanted.set(file.filename, file.bytes);
    if (file.yankedReason !== undefined) wanted.set(`${file.filename}.yanked`, Buffer.from(`${file.yankedReason}\n`));
  }
  const written: string[] = [];
  for (const [name, bytes] of wanted) {
    const path = join(dir, name);
    if (existsSync(path) && readFileSync(path).equals(bytes)) continue;
    const tmp = join(dir, `.${name}.tmp-${process.pid}`);
    writeFileSync(tmp, bytes);
    renameSync(tmp, path);
    written.push(name);
  }
  const removed: string[] = [];
  for (const name of readdirSync(dir)) {
    if (wanted.has(name)) continue;
    const base = name.replace(/\.(yanked|metadata)$/, '');
    if (parseDistFilename(base) || /^\..+\.tmp-\d+$/.test(name)) {
      rmSync(join(dir, name), { force: true });
      removed.push(name);
    }
  }
  return { files: [...wanted.keys()].filter((n) => !n.endsWith('.yanked')).sort(), written: written.sort(), removed: removed.sort() };
}

function runCli(argv: string[]): void {
  let out = '';
  let hostWheelsDir: string | null = HOST_WHEELS_DIR;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    if (flag === '--out' && argv[i + 1] !== undefined) out = argv[++i]!;
    else if (flag === '--host-wheels' && argv[i + 1] !== undefined) hostWheelsDir = argv[++i]!;
    else if (flag === '--no-host-wheels') hostWheelsDir = null;
    else throw new Error(`unknown argument ${flag}; usage: fixtures-index.ts --out <dir> [--host-wheels <dir>|--no-host-wheels]`);
  }
  if (!out) throw new Error('--out <dir> is required');
  const result = writeFixtureIndex(out, { hostWheelsDir });
  console.log(`fixture index ${out}: ${result.files.length} files, ${result.written.length} written, ${result.removed.length} removed`);
  for (const name of result.files) console.log(`  ${name}${result.written.includes(name) ? ' (written)' : ''}`);
}

if (isMainModule(import.meta.url)) {
  try {
    runCli(process.argv.slice(2));
  } catch (err) {
    console.error(`fixtures-index: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}

/** A wheel Debian ships in HOST_WHEELS_DIR (python3-setuptools-whl, python3-wheel-whl), as an index file. */
export function hostWheel(name: string): { filename: string; bytes: Uint8Array } {
  return { filename: name, bytes: readFileSync(join(HOST_WHEELS_DIR, name)) };
}

/** setuptools and wheel, Debian's: what an index must serve for envseal to build an sdist or a git package. */
export function buildBackendProjects(): Record<'setuptools' | 'wheel', { filename: string; bytes: Uint8Array }[]> {
  return { setuptools: [hostWheel('setuptools-66.1.1-py3-none-any.whl')], wheel: [hostWheel('wheel-0.38.4-py3-none-any.whl')] };
}
