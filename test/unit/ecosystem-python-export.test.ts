/**
 * `envseal export`: the locked Python closure as PEP 751 pylock.toml and as a hashed requirements file. The
 * pylock output is parsed by a real TOML parser and checked against the specification's rules; the
 * requirements output is read back by envseal's own pip-compatible requirements parser.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse as parseToml } from 'smol-toml';
import { exportPylock, exportRequirements, type ExportSource } from '../../src/ecosystems/python/export.js';
import { parseRequirementsText } from '../../src/ecosystems/python/manifests/requirements.js';
import { sampleLock } from '../fixtures/lock/sample-lock.js';

function source(): ExportSource {
  const lock = sampleLock();
  return { section: lock.python!, target: lock.target, fingerprint: lock.fingerprint, lockFile: 'envseal.lock', toolVersion: '0.1.0' };
}

type Table = Record<string, unknown>;
/** smol-toml builds null-prototype objects; compare them as plain data. */
const plain = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

describe('export: pylock.toml (PEP 751)', () => {
  const text = exportPylock(source());
  const doc = parseToml(text) as Table;
  const packages = doc.packages as Table[];

  it('has the required top-level keys with the values the specification allows', () => {
    assert.equal(doc['lock-version'], '1.0');
    assert.equal(doc['created-by'], 'envseal');
    assert.deepEqual(doc.extras, []);
    assert.deepEqual(doc['dependency-groups'], ['dev']);
    assert.deepEqual(doc['default-groups'], ['deploy']);
    assert.equal(doc['requires-python'], '==3.11.2');
    assert.deepEqual(doc.environments, ["sys_platform == 'linux' and platform_machine == 'x86_64'"]);
    assert.deepEqual(plain((doc.tool as Table).envseal), { fingerprint: sampleLock().fingerprint, lock: 'envseal.lock', version: '0.1.0' });
  });

  it('lists every locked package once, sorted by name, with its index and one wheel with its sha256', () => {
    const lock = sampleLock();
    assert.deepEqual(
      packages.map((p) => p.name),
      lock.python!.packages.map((p) => p.name).sort(),
    );
    for (const p of packages) {
      const locked = lock.python!.packages.find((l) => l.name === p.name)!;
      assert.equal(p.version, locked.version);
      assert.equal(p.index, locked.index);
      const wheels = p.wheels as Table[];
      assert.equal(wheels.length, 1);
      assert.deepEqual(plain(wheels[0]), { name: locked.file.filename, url: locked.file.url, hashes: { sha256: locked.file.sha256 } });
      // Mutually exclusive sources: wheels only.
      for (const other of ['vcs', 'directory', 'archive', 'sdist']) assert.equal(p[other], undefined);
    }
  });

  it('installs the deploy closure by default and the dev-only packages with the dev group', () => {
    const marker = (name: string) => packages.find((p) => p.name === name)!.marker;
    assert.equal(marker('seal-devtools'), "'dev' in dependency_groups");
    assert.equal(marker('seal-metrics'), undefined);
    assert.equal(marker('tinyconfig'), undefined);
  });

  it('is canonical: the same lock gives the same bytes; upload times become TOML date-times', () => {
    assert.equal(exportPylock(source()), text);
    const s = source();
    s.section = { ...s.section, packages: s.section.packages.map((p) => ({ ...p, file: { ...p.file, uploadTime: '2024-01-02T03:04:05.123456Z', size: 42 } })) };
    const withTimes = parseToml(exportPylock(s)) as Table;
    const wheel = ((withTimes.packages as Table[])[0]!.wheels as Table[])[0]!;
    assert.equal(wheel.size, 42);
    assert.ok(wheel['upload-time'] instanceof Date, 'upload-time is a TOML offset date-time, not a string');
    // A value that is not an RFC 3339 instant is left out rather than written as a broken date-time.
    s.section = { ...s.section, packages: s.section.packages.map((p) => ({ ...p, file: { ...p.file, uploadTime: 'yesterday' } })) };
    assert.equal(
      ((parseToml(exportPylock(s)) as Table).packages as Table[]).every((p) => (p.wheels as Table[])[0]!['upload-time'] === undefined),
      true,
    );
  });

  it('escapes strings so hostile URLs stay data', () => {
    const s = source();
    s.section = { ...s.section, packages: [{ ...s.section.packages[0]!, index: 'http://x.test/simple"\n[evil]\nx = "1' }] };
    const doc2 = parseToml(exportPylock(s)) as Table;
    assert.equal((doc2.packages as Table[])[0]!.index, 'http://x.test/simple"\n[evil]\nx = "1');
    assert.equal(doc2.evil, undefined);
  });
});

describe('export: hashed requirements.txt', () => {
  it('pins each package of the target to its one locked file, readable by a pip-compatible parser', () => {
    const lock = sampleLock();
    for (const target of ['dev', 'deploy'] as const) {
      const text = exportRequirements(source(), target);
      const entries = parseRequirementsText(text, 'requirements.lock.txt');
      const reqs = entries.filter((e) => e.kind === 'requirement');
      const expected = lock.python!.packages.filter((p) => p.targets.includes(target));
      assert.deepEqual(reqs.map((r) => r.requirement.name).sort(), expected.map((p) => p.name).sort(), target);
      for (const r of reqs) {
        const locked = expected.find((p) => p.name === r.requirement.name)!;
        assert.equal(r.requirement.specifier, `==${locked.version}`);
        assert.equal(r.requirement.url, undefined);
        assert.deepEqual(r.hashes, [`sha256:${locked.file.sha256}`]);
      }
      const options = entries.filter((e) => e.kind === 'option');
      assert.deepEqual(
        options.map((o) => [o.option, o.value]),
        [
          ['index-url', 'http://127.0.0.1:5080/simple'],
          ['only-binary', ':all:'],
        ],
      );
      assert.match(text, /pip install --no-deps --require-hashes -r/);
      assert.match(text, new RegExp(`fingerprint ${lock.fingerprint}`));
    }
  });

  it('lists each extra index once, after the main one', () => {
    const s = source();
    s.section = { ...s.section, packages: [...s.section.packages, { ...s.section.packages[0]!, name: 'torch', index: 'http://127.0.0.1:5081/cu121' }] };
    const text = exportRequirements(s, 'dev');
    assert.match(text, /--index-url http:\/\/127\.0\.0\.1:5080\/simple\n--extra-index-url http:\/\/127\.0\.0\.1:5081\/cu121\n/);
    assert.equal(text.match(/--extra-index-url/g)?.length, 1);
  });
});

describe('export: sdists built by the lock and packages pinned by URL', () => {
  const sdistSource = (): ExportSource => {
    const s = source();
    const base = s.section.packages[0]!;
    const built = {
      ...base,
      name: 'seal-legacy',
      version: '0.5.0',
      file: { filename: 'seal_legacy-0.5.0.tar.gz', url: 'http://127.0.0.1:5080/files/seal_legacy-0.5.0.tar.gz', sha256: 'a'.repeat(64) },
      build: {
        requires: ['setuptools>=61'],
        sourceDateEpoch: 315532800,
        deps: [
          {
            name: 'setuptools',
            version: '66.1.1',
            file: { filename: 'setuptools-66.1.1-py3-none-any.whl', url: 'u', sha256: 'b'.repeat(64) },
            index: base.index,
          },
        ],
        wheel: { filename: 'seal_legacy-0.5.0-py3-none-any.whl', sha256: 'c'.repeat(64) },
      },
      targets: ['deploy' as const, 'dev' as const],
    };
    const direct = {
      ...base,
      name: 'urlsdist',
      version: '1.0',
      file: { filename: 'urlsdist-1.0.tar.gz', url: 'https://files.test/urlsdist-1.0.tar.gz', sha256: 'd'.repeat(64) },
      index: 'https://files.test/urlsdist-1.0.tar.gz',
      direct: true as const,
      build: { ...built.build, wheel: { filename: 'urlsdist-1.0-py3-none-any.whl', sha256: 'e'.repeat(64) } },
      targets: ['deploy' as const, 'dev' as const],
    };
    s.section = { ...s.section, packages: [...s.section.packages, built, direct] };
    return s;
  };

  it('requirements: the sdist with its own hash (what pip downloads), by URL when pinned by URL, and no --only-binary', () => {
    const text = exportRequirements(sdistSource(), 'deploy');
    assert.ok(text.includes(`\nseal-legacy==0.5.0 \\\n    --hash=sha256:${'a'.repeat(64)}\n`), text);
    assert.ok(text.includes(`\nurlsdist @ https://files.test/urlsdist-1.0.tar.gz \\\n    --hash=sha256:${'d'.repeat(64)}\n`), text);
    assert.doesNotMatch(text, /--only-binary/);
    assert.match(
      text,
      /# seal_legacy-0\.5\.0\.tar\.gz is an sdist: pip builds it; envseal built it with setuptools 66\.1\.1\n {4}# {3}setuptools==66\.1\.1 --hash=sha256:b{64}\n/,
    );
    assert.match(text, /# \(SOURCE_DATE_EPOCH=315532800\) into seal_legacy-0\.5\.0-py3-none-any\.whl sha256:c{64}/);
    // The notes are comments to pip: every note line starts with "#" after the indentation.
    for (const l of text.split('\n').filter((l) => l.includes('envseal built it') || l.includes('SOURCE_DATE_EPOCH='))) assert.match(l, /^ {4}# /);
  });

  it('pylock: an sdist table with url and hashes; a URL-pinned package names no index', () => {
    const doc = parseToml(exportPylock(sdistSource())) as Table;
    const packages = doc.packages as Table[];
    const legacy = packages.find((p) => p.name === 'seal-legacy')!;
    assert.equal(legacy.wheels, undefined);
    assert.deepEqual(plain(legacy.sdist), {
      name: 'seal_legacy-0.5.0.tar.gz',
      url: 'http://127.0.0.1:5080/files/seal_legacy-0.5.0.tar.gz',
      hashes: { sha256: 'a'.repeat(64) },
    });
    assert.equal(legacy.index, 'http://127.0.0.1:5080/simple');
    const direct = packages.find((p) => p.name === 'urlsdist')!;
    assert.equal(direct.index, undefined);
    assert.deepEqual(plain(direct.sdist), { name: 'urlsdist-1.0.tar.gz', url: 'https://files.test/urlsdist-1.0.tar.gz', hashes: { sha256: 'd'.repeat(64) } });
  });
});
