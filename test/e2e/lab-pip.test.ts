/**
 * The lab's Python index and wheels, checked by the real thing: pip (23.0.1, Debian bookworm) and Python's own
 * zipfile/tarfile/hashlib inside the lab's base image, over host networking to an index on loopback.
 * This is also the oracle the resolver tests lean on: `pip install --dry-run --ignore-installed --report -`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startIndex, type LabIndex } from '../lab/index-server.js';
import { dockerCli, LAB_LOCAL_BASE_IMAGE, requireLab, type LabStatus } from '../lab/lab.js';
import { buildSdist, buildWheel } from '../lab/wheel.js';

const alpha1 = buildWheel({ name: 'alpha', version: '1.0', files: { 'alpha/__init__.py': '__version__ = "1.0"\nGREETING = "hello from alpha"\n' } });
const alpha15 = buildWheel({ name: 'alpha', version: '1.5' });
const alpha2 = buildWheel({ name: 'alpha', version: '2.0' });
const beta = buildWheel({
  name: 'beta',
  version: '1.0',
  requiresDist: ['alpha<2,>=1.0; python_version >= "3"', 'not-on-this-index; sys_platform == "win32"'],
});
const gamma = buildWheel({ name: 'gamma', version: '0.3', requiresDist: ['beta>=1.0'], compression: 'deflate' });
const projects = {
  alpha: [alpha1, { ...alpha15, yanked: 'broken build' }, alpha2],
  beta: [beta],
  gamma: [gamma],
};

interface PipReport {
  version: string;
  pip_version: string;
  install: {
    download_info: { url: string; archive_info: { hashes?: { sha256?: string } } };
    metadata: { name: string; version: string };
    requested: boolean;
  }[];
}

/** Runs a shell script in the lab's base image with host networking (the engine runs with --bridge=none). */
function runInImage(script: string, input?: string) {
  return dockerCli(
    [
      'run',
      '--rm',
      '-i',
      '--network',
      'host',
      '-e',
      'PIP_DISABLE_PIP_VERSION_CHECK=1',
      '-e',
      'PIP_NO_CACHE_DIR=1',
      '-e',
      'PIP_NO_INPUT=1',
      LAB_LOCAL_BASE_IMAGE,
      'sh',
      '-c',
      script,
    ],
    { input: input ?? '', timeoutMs: 180_000 },
  );
}

function summarize(report: PipReport): Record<string, { version: string; sha256: string | undefined; requested: boolean }> {
  return Object.fromEntries(
    report.install.map((i) => [i.metadata.name, { version: i.metadata.version, sha256: i.download_info.archive_info.hashes?.sha256, requested: i.requested }]),
  );
}

describe('lab index + wheels with real pip in the lab image', () => {
  let lab: LabStatus;
  let index: LabIndex;
  before(async () => {
    lab = await requireLab();
    index = await startIndex({ projects });
  });
  after(() => index?.close());

  it('requireLab reports the engine and the registry digest the local base image was pushed under', async () => {
    assert.match(lab.engineApiVersion, /^1\.\d+$/);
    assert.match(lab.baseImageDigest, /^sha256:[0-9a-f]{64}$/);
    const inspect = await dockerCli(['image', 'inspect', '--format', '{{json .RepoDigests}}', LAB_LOCAL_BASE_IMAGE], { check: true });
    assert.ok((JSON.parse(inspect.stdout) as string[]).includes(`127.0.0.1:5000/python@${lab.baseImageDigest}`), inspect.stdout);
  });

  it('pip installs a wheel in hash-checking mode and the module imports', async () => {
    const res = await runInImage(
      `python3 -m pip install --break-system-packages --require-hashes --no-deps --index-url ${index.url} -r /dev/stdin >&2 && ` +
        `python3 -c 'import alpha; print(alpha.__version__, alpha.GREETING)'`,
      `alpha==1.0 --hash=sha256:${alpha1.sha256}\n`,
    );
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stdout.trim(), '1.0 hello from alpha');
    assert.ok(index.requests.some((r) => r.path === `/files/alpha/${alpha1.filename}` && r.status === 200));
  });

  it('pip refuses a wheel whose hash does not match the lock', async () => {
    const res = await runInImage(
      `python3 -m pip install --break-system-packages --require-hashes --no-deps --index-url ${index.url} -r /dev/stdin`,
      `alpha==1.0 --hash=sha256:${'0'.repeat(64)}\n`,
    );
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /THESE PACKAGES DO NOT MATCH THE HASHES/);
    assert.match(res.stderr, new RegExp(`Got +${alpha1.sha256}`));
  });

  it("pip's resolver resolves through the index: markers, ranges and yanked releases (--dry-run --report)", async () => {
    index.requests.length = 0;
    const res = await runInImage(`python3 -m pip install --dry-run --ignore-installed --quiet --report - --index-url ${index.url} gamma`);
    assert.equal(res.code, 0, res.stderr);
    const report = JSON.parse(res.stdout) as PipReport;
    assert.equal(report.version, '1');
    assert.deepEqual(summarize(report), {
      gamma: { version: '0.3', sha256: gamma.sha256, requested: true },
      beta: { version: '1.0', sha256: beta.sha256, requested: false },
      // 2.0 is excluded by beta's range, 1.5 is yanked (PEP 592: only an exact == pin may select it).
      alpha: { version: '1.0', sha256: alpha1.sha256, requested: false },
    });
    const pages = index.requests.filter((r) => r.path.startsWith('/simple/'));
    assert.deepEqual(pages.map((r) => r.path).sort(), ['/simple/alpha/', '/simple/beta/', '/simple/gamma/']);
    // pip asks for PEP 691 JSON first; the server answered 200 with it.
    assert.ok(pages.every((r) => r.accept?.startsWith('application/vnd.pypi.simple.v1+json') && r.status === 200));
    assert.ok(!index.requests.some((r) => r.path.includes('not-on-this-index')), 'a false marker is never looked up');
  });

  it('pip retries an index that fails twice with 503 and then answers', async () => {
    index.requests.length = 0;
    index.setFault({ path: /^\/simple\/gamma\/$/, status: 503, times: 2 });
    const res = await runInImage(`python3 -m pip install --dry-run --ignore-installed --no-deps --quiet --report - --index-url ${index.url} gamma`);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(summarize(JSON.parse(res.stdout) as PipReport).gamma?.version, '0.3');
    assert.deepEqual(
      index.requests.filter((r) => r.path === '/simple/gamma/').map((r) => r.status),
      [503, 503, 200],
    );
  });

  it('through an HTML-only index pip 23 reads PEP 658 metadata files (data-dist-info-metadata)', async () => {
    const htmlIndex = await startIndex({ projects, formats: ['html'] });
    try {
      const res = await runInImage(`python3 -m pip install --dry-run --ignore-installed --quiet --report - --index-url ${htmlIndex.url} gamma`);
      assert.equal(res.code, 0, res.stderr);
      assert.equal(summarize(JSON.parse(res.stdout) as PipReport).alpha?.version, '1.0');
      const metadataFetches = htmlIndex.requests.filter((r) => r.path.endsWith('.metadata')).map((r) => `${r.status} ${r.path}`);
      assert.deepEqual(metadataFetches.sort(), [
        `200 /files/alpha/${alpha1.filename}.metadata`,
        `200 /files/beta/${beta.filename}.metadata`,
        `200 /files/gamma/${gamma.filename}.metadata`,
      ]);
      assert.ok(htmlIndex.requests.filter((r) => r.path.startsWith('/simple/')).every((r) => r.status === 200));
    } finally {
      await htmlIndex.close();
    }
  });

  it("Python's zipfile/tarfile/hashlib accept the built wheel (RECORD hashes) and sdist (PKG-INFO)", async () => {
    const wheel = buildWheel({
      name: 'Check.Me',
      version: '2.1',
      compression: 'deflate',
      requiresDist: ['alpha>=1'],
      files: { 'check_me/__init__.py': 'X = 1\n', 'check_me/data/table.csv': 'a,b\n1,2\n', 'check_me/odd, "name".txt': 'odd\n' },
    });
    const sdist = buildSdist({ name: 'check-me', version: '2.1', dynamic: ['Requires-Dist'], requiresDist: ['alpha>=1'] });
    const script = `
import base64, email.parser, hashlib, io, json, sys, tarfile, zipfile, csv
data = json.load(sys.stdin)
z = zipfile.ZipFile(io.BytesIO(base64.b64decode(data["wheel"])))
assert z.testzip() is None
record_name = [n for n in z.namelist() if n.endswith(".dist-info/RECORD")][0]
bad = []
rows = list(csv.reader(io.StringIO(z.read(record_name).decode())))
for path, digest, size in rows:
    if path == record_name:
        assert digest == "" and size == "", (path, digest, size)
        continue
    content = z.read(path)
    want = "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(content).digest()).rstrip(b"=").decode()
    if digest != want or int(size) != len(content):
        bad.append(path)
meta = email.parser.Parser().parsestr(z.read([n for n in z.namelist() if n.endswith(".dist-info/METADATA")][0]).decode())
wheel = email.parser.Parser().parsestr(z.read([n for n in z.namelist() if n.endswith(".dist-info/WHEEL")][0]).decode())
t = tarfile.open(fileobj=io.BytesIO(base64.b64decode(data["sdist"])), mode="r:gz")
pkg = email.parser.Parser().parsestr(t.extractfile("check_me-2.1/PKG-INFO").read().decode())
print(json.dumps({
  "names": sorted(z.namelist()), "records": len(rows), "bad": bad,
  "name": meta["Name"], "requires": meta.get_all("Requires-Dist"), "tags": wheel.get_all("Tag"),
  "purelib": wheel["Root-Is-Purelib"], "sdist": [pkg["Metadata-Version"], pkg["Name"], pkg.get_all("Dynamic")],
  "members": sorted(m.name for m in t.getmembers()),
}))
`;
    const res = await runInImage(
      `python3 -c '${script.replace(/'/g, `'"'"'`)}'`,
      JSON.stringify({ wheel: wheel.bytes.toString('base64'), sdist: sdist.bytes.toString('base64') }),
    );
    assert.equal(res.code, 0, res.stderr);
    const out = JSON.parse(res.stdout) as Record<string, unknown>;
    assert.deepEqual(out, {
      names: [
        'check_me-2.1.dist-info/METADATA',
        'check_me-2.1.dist-info/RECORD',
        'check_me-2.1.dist-info/WHEEL',
        'check_me/__init__.py',
        'check_me/data/table.csv',
        'check_me/odd, "name".txt',
      ],
      records: 6,
      bad: [],
      name: 'Check.Me',
      requires: ['alpha>=1'],
      tags: ['py3-none-any'],
      purelib: 'true',
      sdist: ['2.2', 'check-me', ['Requires-Dist']],
      members: ['check_me-2.1', 'check_me-2.1/PKG-INFO', 'check_me-2.1/check_me/__init__.py', 'check_me-2.1/pyproject.toml'],
    });
  });
});
