/**
 * A generated, ML-shaped Python package index: real wheels (test/lab/wheel.ts) for ~80 projects in four
 * layers (leaf utilities → numeric libraries → frameworks → applications), 15+ versions each, with what
 * real stacks have: platform wheels (manylinux_2_17 / 2_28 / 2_39, musllinux, win, macOS, abi3) next to
 * pure ones, a newest release that needs a newer Python, yanked releases, pre-releases, environment
 * markers that hold and that do not, extras (including extras that request other extras), sdists with
 * static metadata, and optionally a backtracking trap.
 *
 * Deterministic: the same options give byte-identical files (seeded PRNG, stored ZIP entries).
 *
 * Conflict-free by construction when `trap` is false: every version range a dependency states admits the
 * newest version of the dependency that the target (CPython 3.11, x86_64, glibc 2.36) can use. So the
 * newest-first greedy choice (pip's) needs no backtracking, and a correct resolver finds exactly the same
 * closure. With `trap`, the newest releases of `accelerate` cap numpy below the requirements' minimum and
 * every range on accelerate still admits an older, uncapped release: solvable, but only by backtracking.
 */
import type { FileSpec } from '../../test/lab/index-server.js';
import { buildSdist, buildWheel } from '../../test/lab/wheel.js';

export interface MlIndexOptions {
  seed?: number;
  /** Add the backtracking trap (the newest releases of `accelerate` cap numpy below what the root needs). */
  trap?: boolean;
  /** Versions per project (default 16, at least 15). */
  versions?: number;
  /** Upload times: release i of a project is uploaded `base + i days` (PEP 700), for excludeNewer tests. */
  uploadBase?: string;
}

export interface Release {
  version: string;
  requiresDist: string[];
  requiresPython?: string;
  providesExtra: string[];
  yanked?: string;
  /** Tags of the wheels published for this release. */
  wheelTags: string[];
  sdist: boolean;
}

export interface MlIndex {
  projects: Record<string, FileSpec[]>;
  releases: Map<string, Release[]>;
  /** The requirements an application would declare (PEP 508 text). */
  requirements: string[];
  /** Total number of files. */
  fileCount: number;
}

/** mulberry32: a small, well-distributed 32-bit PRNG; enough for reproducible test data. */
function createPrng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const LEAVES = [
  'typing-ext',
  'filelock',
  'fsspec',
  'packaging',
  'pyyaml',
  'regex',
  'requests',
  'urllib3',
  'idna',
  'certifi',
  'charset-normalizer',
  'tqdm',
  'jinja2',
  'markupsafe',
  'networkx',
  'sympy',
  'mpmath',
  'six',
  'python-dateutil',
  'pytz',
  'tzdata',
  'psutil',
  'safetensors',
  'protobuf',
  'absl-py',
  'grpcio',
  'wrapt',
  'attrs',
  'click',
  'colorama',
  'dill',
  'xxhash',
  'multiprocess',
  'pyparsing',
];
const MIDDLE = [
  'numpy',
  'scipy',
  'pandas',
  'pillow',
  'h5py',
  'pyarrow',
  'matplotlib',
  'scikit-learn',
  'tokenizers',
  'huggingface-hub',
  'aiohttp',
  'multidict',
  'yarl',
  'frozenlist',
  'aiosignal',
  'joblib',
  'jax',
  'ml-dtypes',
  'opt-einsum',
  'onnx',
  'tensorboard',
  'markdown',
  'werkzeug',
  'numba',
];
const FRAMEWORKS = [
  'torch',
  'torchvision',
  'torchaudio',
  'triton',
  'transformers',
  'accelerate',
  'datasets',
  'evaluate',
  'peft',
  'sentencepiece',
  'xformers',
  'lightning',
  'torchmetrics',
  'diffusers',
];
const APPS = ['trl', 'vllm-lite', 'timm', 'open-clip', 'sentence-transformers', 'bitsandbytes', 'deepspeed', 'optimum', 'gradio-lite', 'wandb-lite'];

/** Projects with compiled code: platform wheels (and an sdist), like numpy or torch. */
const PLATFORM = new Set([
  'regex',
  'markupsafe',
  'psutil',
  'safetensors',
  'protobuf',
  'grpcio',
  'wrapt',
  'xxhash',
  'numpy',
  'scipy',
  'pandas',
  'pillow',
  'h5py',
  'pyarrow',
  'tokenizers',
  'multidict',
  'yarl',
  'frozenlist',
  'aiohttp',
  'ml-dtypes',
  'numba',
  'torch',
  'torchvision',
  'torchaudio',
  'triton',
  'sentencepiece',
  'xformers',
  'bitsandbytes',
  'jax',
  'onnx',
]);
/** Projects whose wheels use the stable ABI (one wheel for every CPython >= 3.8). */
const ABI3 = new Set(['protobuf', 'cryptography', 'safetensors', 'tokenizers', 'pyarrow']);

const X86 = 'x86_64';

export function findLayer(name: string): number {
  if (LEAVES.includes(name)) return 0;
  if (MIDDLE.includes(name)) return 1;
  if (FRAMEWORKS.includes(name)) return 2;
  return 3;
}

/** Version ladder: `count` ascending releases like 0.9.0, 1.0.0, 1.0.1, 1.1.0, ..., some with majors. */
function buildVersionLadder(rand: () => number, count: number): string[] {
  let major = Math.floor(rand() * 3);
  let minor = Math.floor(rand() * 5);
  let patch = 0;
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    out.push(`${major}.${minor}.${patch}`);
    const r = rand();
    if (r < 0.12) {
      major += 1;
      minor = 0;
      patch = 0;
    } else if (r < 0.6) {
      minor += 1;
      patch = 0;
    } else {
      patch += 1;
    }
  }
  return out;
}

function chooseWheelTags(name: string, index: number, count: number): string[] {
  if (!PLATFORM.has(name)) return ['py3-none-any'];
  const linux = index >= count - 6 ? `manylinux_2_28_${X86}` : `manylinux_2_17_${X86}.manylinux2014_${X86}`;
  if (ABI3.has(name)) return [`cp38-abi3-${linux}`, `cp38-abi3-musllinux_1_2_${X86}`, 'cp38-abi3-win_amd64'];
  return [
    `cp311-cp311-${linux}`,
    `cp311-cp311-musllinux_1_1_${X86}`,
    'cp311-cp311-win_amd64',
    'cp311-cp311-macosx_11_0_arm64',
    `cp310-cp310-${linux}`,
    `cp312-cp312-${linux}`,
  ];
}

interface Draft {
  name: string;
  versions: string[];
  /** Index of the newest version the target (CPython 3.11, glibc 2.36, x86_64) can use. */
  usable: number;
  releases: Release[];
}

/**
 * A range for a dependency that admits its newest usable version (and usually a few older ones), in one
 * of the shapes real metadata uses.
 */
function makeRange(rand: () => number, dep: Draft, atRelease: number, releaseCount: number): string {
  // Older releases of a dependent ask for older minimums: the constraint "moves" with time.
  const ageFactor = atRelease / Math.max(1, releaseCount - 1);
  const lowIndex = Math.max(0, Math.floor(dep.usable * ageFactor * 0.8 - rand() * 4));
  const low = dep.versions[lowIndex]!;
  const newest = dep.versions[dep.usable]!;
  const [maj] = newest.split('.').map(Number) as [number];
  const shape = rand();
  if (shape < 0.25) return `>=${low}`;
  if (shape < 0.45) return `>=${low},<${maj + 1}`;
  if (shape < 0.55) {
    const old = dep.versions[Math.max(0, lowIndex - 1)]!;
    return old === newest ? `>=${low}` : `>=${low},!=${old}`;
  }
  // `~=X.Y` is ">=X.Y, ==X.*": built from the newest usable version, so it admits it.
  if (shape < 0.65) return `~=${newest.split('.').slice(0, 2).join('.')}`;
  if (shape < 0.75) return '';
  return `>=${low}`;
}

const TRUE_MARKERS = ['platform_machine == "x86_64"', 'python_version >= "3.8"', 'sys_platform == "linux"', 'implementation_name == "cpython"'];
const FALSE_MARKERS = ['sys_platform == "win32"', 'python_version < "3.9"', 'platform_system == "Darwin"', 'platform_machine == "aarch64"'];

/** Builds the generated index. */
export function generateMlIndex(options: MlIndexOptions = {}): MlIndex {
  const rand = createPrng(options.seed ?? 20240501);
  const count = Math.max(15, options.versions ?? 16);
  const all = [...LEAVES, ...MIDDLE, ...FRAMEWORKS, ...APPS];
  const drafts = new Map<string, Draft>();

  // 1. Versions and which one is the newest the target can use.
  for (const name of all) {
    const n = count + Math.floor(rand() * 4);
    const versions = buildVersionLadder(rand, n);
    const releases: Release[] = versions.map((version, i) => ({
      version,
      requiresDist: [],
      providesExtra: [],
      wheelTags: chooseWheelTags(name, i, n),
      sdist: rand() < 0.3,
    }));
    let usable = n - 1;
    const r = rand();
    if (r < 0.15) {
      // The newest release needs a newer Python (like numpy 2.3 needing 3.11+ ... here 3.12+).
      releases[n - 1]!.requiresPython = '>=3.12';
      usable = n - 2;
    } else if (r < 0.25 && PLATFORM.has(name) && !ABI3.has(name)) {
      // The newest release only has wheels for a glibc newer than the target's 2.36.
      releases[n - 1]!.wheelTags = [`cp311-cp311-manylinux_2_39_${X86}`, `cp311-cp311-musllinux_1_2_${X86}`];
      releases[n - 1]!.sdist = false;
      usable = n - 2;
    }
    if (rand() < 0.2 && usable >= 2) {
      // The newest usable release was yanked: pip falls back to the one before.
      releases[usable]!.yanked = 'broken build, use the previous release';
      usable -= 1;
    }
    for (const rel of releases) rel.requiresPython ??= rand() < 0.5 ? '>=3.8' : undefined;
    drafts.set(name, { name, versions, usable, releases });
  }
  // A pre-release above everything for a few projects: skipped unless asked for.
  for (const name of ['pandas', 'torch', 'transformers', 'numpy', 'click']) {
    const d = drafts.get(name)!;
    const top = d.versions[d.versions.length - 1]!;
    const [maj] = top.split('.').map(Number) as [number];
    const pre = `${maj + 1}.0.0rc1`;
    d.versions.push(pre);
    d.releases.push({
      version: pre,
      requiresDist: [],
      providesExtra: [],
      wheelTags: chooseWheelTags(name, d.releases.length, d.releases.length + 1),
      sdist: false,
      requiresPython: '>=3.8',
    });
  }
  // peft's next major only has release candidates: `peft>=N.0.0rc1` (a requirement naming a pre-release)
  // gets the newest rc.
  const peftNext = Number(drafts.get('peft')!.versions.at(-1)!.split('.')[0]) + 1;
  {
    const d = drafts.get('peft')!;
    for (const pre of [`${peftNext}.0.0rc1`, `${peftNext}.0.0rc2`]) {
      d.versions.push(pre);
      d.releases.push({ version: pre, requiresDist: [], providesExtra: [], wheelTags: ['py3-none-any'], sdist: false });
    }
  }

  // 2. Dependencies, layer by layer, always on lower layers (no cycles except the deliberate extra cycle).
  const lower = (layer: number) => all.filter((n) => findLayer(n) < layer);
  for (const name of all) {
    const layer = findLayer(name);
    if (layer === 0) {
      // A few leaves depend on other leaves earlier in the list (still acyclic).
      const i = LEAVES.indexOf(name);
      const d = drafts.get(name)!;
      if (i > 4 && rand() < 0.4) {
        const dep = drafts.get(LEAVES[Math.floor(rand() * (i - 1))]!)!;
        d.releases.forEach((rel, k) => rel.requiresDist.push(`${dep.name}${makeRange(rand, dep, k, d.releases.length)}`));
      }
      continue;
    }
    const d = drafts.get(name)!;
    const pool = lower(layer);
    const depCount = 2 + Math.floor(rand() * (layer === 1 ? 3 : 5));
    const picks = new Set<string>();
    // Prefer the layer right below, like real stacks do.
    while (picks.size < depCount) {
      const fromBelow = all.filter((n) => findLayer(n) === layer - 1);
      const source = rand() < 0.6 ? fromBelow : pool;
      picks.add(source[Math.floor(rand() * source.length)]!);
    }
    d.releases.forEach((rel, k) => {
      for (const depName of picks) {
        // Older releases depend on fewer things (projects grow).
        if (k < d.releases.length / 3 && rand() < 0.3) continue;
        const dep = drafts.get(depName)!;
        let line = `${depName}${makeRange(rand, dep, k, d.releases.length)}`;
        const m = rand();
        if (m < 0.12) line += `; ${TRUE_MARKERS[Math.floor(rand() * TRUE_MARKERS.length)]}`;
        rel.requiresDist.push(line);
      }
      // A dependency that only applies elsewhere: a resolver for this target must not install it.
      if (rand() < 0.25) rel.requiresDist.push(`colorama>=0.4; ${FALSE_MARKERS[Math.floor(rand() * FALSE_MARKERS.length)]}`);
      if (rand() < 0.1) rel.requiresDist.push(`pywin32-ctypes>=0.2; sys_platform == "win32"`);
    });
  }

  // 3. Extras, including extras that request other extras of the same project and a cycle through one.
  const addExtra = (name: string, extra: string, deps: string[], fromRelease = 0) => {
    const d = drafts.get(name)!;
    d.releases.forEach((rel, k) => {
      if (k < fromRelease) return;
      if (!rel.providesExtra.includes(extra)) rel.providesExtra.push(extra);
      for (const dep of deps) rel.requiresDist.push(`${dep}; extra == "${extra}"`);
    });
  };
  const newestRange = (dep: string) => {
    const d = drafts.get(dep)!;
    return `>=${d.versions[Math.max(0, d.usable - 3)]}`;
  };
  addExtra('transformers', 'torch', [`torch${newestRange('torch')}`, `accelerate>=${drafts.get('accelerate')!.versions[2]}`]);
  addExtra('transformers', 'vision', [`pillow${newestRange('pillow')}`, 'torchvision']);
  addExtra('transformers', 'sentencepiece', ['sentencepiece', 'protobuf']);
  addExtra('transformers', 'all', ['transformers[torch,vision]', 'transformers[sentencepiece]']);
  addExtra('datasets', 'vision', ['pillow']);
  addExtra('datasets', 'audio', ['torchaudio', 'numba']);
  addExtra('torch', 'opt-einsum', ['opt-einsum>=3.0']);
  addExtra('accelerate', 'metrics', ['evaluate', 'torchmetrics']);
  addExtra('evaluate', 'template', ['accelerate[metrics]']);
  addExtra('huggingface-hub', 'torch', ['torch', 'safetensors[torch]']);
  addExtra('safetensors', 'torch', ['torch', 'numpy']);
  addExtra('timm', 'hub', ['huggingface-hub[torch]']);

  // 4. The trap: accelerate's newest releases cap numpy far below what the requirements ask for.
  if (options.trap) {
    const acc = drafts.get('accelerate')!;
    const np = drafts.get('numpy')!;
    const cap = np.versions[3]!;
    for (let k = acc.releases.length - 8; k < acc.releases.length; k++) acc.releases[k]!.requiresDist.push(`numpy<${cap}`);
    // Keep it solvable: every requirement on accelerate admits an older release without the cap.
    const floor = `accelerate>=${acc.versions[2]}`;
    for (const other of drafts.values()) {
      for (const rel of other.releases) {
        rel.requiresDist = rel.requiresDist.map((line) => (/^accelerate(?![\w.-])(?!\[)/.test(line) ? line.replace(/^accelerate[^;]*/, floor) : line));
      }
    }
  }

  // 5. Files.
  const base = Date.parse(options.uploadBase ?? '2023-01-01T00:00:00Z');
  const projects: Record<string, FileSpec[]> = {};
  const releases = new Map<string, Release[]>();
  let fileCount = 0;
  for (const d of drafts.values()) {
    const files: FileSpec[] = [];
    d.releases.forEach((rel, k) => {
      const uploadTime = new Date(base + k * 86_400_000).toISOString().replace(/\.\d{3}Z$/, '.000000Z');
      const common = {
        name: d.name,
        version: rel.version,
        requiresDist: rel.requiresDist,
        providesExtra: rel.providesExtra,
        ...(rel.requiresPython ? { requiresPython: rel.requiresPython } : {}),
        summary: `${d.name} (generated ML-shaped test project)`,
      };
      // Like PyPI, the index states the release's Requires-Python on every file, sdists included.
      const attrs: Partial<FileSpec> = { uploadTime, requiresPython: rel.requiresPython ?? null, ...(rel.yanked ? { yanked: rel.yanked } : {}) };
      for (const tag of rel.wheelTags) {
        const wheel = buildWheel({ ...common, tag });
        files.push({ filename: wheel.filename, bytes: wheel.bytes, ...attrs });
      }
      if (rel.sdist) {
        const sdist = buildSdist(common);
        files.push({ filename: sdist.filename, bytes: sdist.bytes, ...attrs });
      }
    });
    projects[d.name] = files;
    releases.set(d.name, d.releases);
    fileCount += files.length;
  }

  const np = drafts.get('numpy')!;
  const requirements = [
    'transformers[all]>=' + drafts.get('transformers')!.versions[4],
    `numpy>=${np.versions[Math.max(4, np.usable - 4)]}`,
    `torch${newestRange('torch')}`,
    'datasets[vision]',
    'accelerate',
    'scikit-learn',
    `pandas<${Number(drafts.get('pandas')!.versions.at(-1)!.split('.')[0]) + 1}`,
    `peft>=${peftNext}.0.0rc1`,
    'trl',
    'timm[hub]',
    'sentence-transformers',
    'evaluate[template]',
    'lightning',
    'pywin32-ctypes; sys_platform == "win32"',
  ];
  return { projects, releases, requirements, fileCount };
}
