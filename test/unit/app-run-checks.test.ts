import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decideRunReasons, refuseIfStrict, type RunFacts } from '../../src/app/run-checks.js';
import { isEnvsealError } from '../../src/core/errors.js';

const FP = `sha256:${'a'.repeat(64)}`;
const ID = `sha256:${'b'.repeat(64)}`;

function facts(over: Partial<RunFacts> = {}): RunFacts {
  return {
    lockFile: 'envseal.lock',
    drift: [],
    lockFingerprint: FP,
    image: { ref: 'envseal/x:dev-aaaa', id: ID, fingerprintLabel: FP },
    git: {
      state: { commit: 'c'.repeat(40), branch: 'main', dirty: false, diffDigest: null, changedFiles: 0, untrackedFiles: 0, projectPath: '.', remote: null },
      unavailable: null,
      changedPaths: [],
    },
    build: { reproducible: true },
    ...over,
  };
}

describe('decideRunReasons', () => {
  it('finds nothing in a clean, fresh, matching, reproducible state (and nothing when git or the build record is absent)', () => {
    assert.deepEqual(decideRunReasons(facts()), []);
    assert.deepEqual(decideRunReasons(facts({ build: null, git: { state: null, unavailable: { reason: 'not-a-repository', message: 'no' } } })), []);
  });

  it('names each reason, in a fixed order, with the files concerned', () => {
    const reasons = decideRunReasons(
      facts({
        drift: [
          { file: 'requirements.txt', kind: 'added', subject: 'numpy' },
          { file: 'envseal.yaml', kind: 'changed', subject: 'env.A', before: '1', after: '2' },
          { file: 'requirements.txt', kind: 'removed', subject: 'six' },
        ],
        image: { ref: 'mine:1', id: ID, fingerprintLabel: null },
        git: {
          state: { commit: null, branch: null, dirty: true, diffDigest: FP, changedFiles: 1, untrackedFiles: 6, projectPath: '.', remote: null },
          unavailable: null,
          changedPaths: ['a', 'b', 'c', 'd', 'e', 'f', 'train.py'],
        },
        build: { reproducible: false },
      }),
    );
    assert.deepEqual(
      reasons.map((r) => r.code),
      ['lock-stale', 'image-mismatch', 'git-dirty', 'not-reproducible-build'],
    );
    assert.equal(reasons[0]!.message, 'envseal.lock is stale: 3 input changes (envseal.yaml, requirements.txt)');
    assert.deepEqual(reasons[0]!.files, ['envseal.yaml', 'requirements.txt']);
    assert.equal(reasons[1]!.message, `image mine:1 has fingerprint (none), the lock has ${FP}`);
    assert.equal(reasons[2]!.message, 'the git work tree has 7 uncommitted changes (a, b, c, d, e and 2 more)');
    assert.equal(reasons[2]!.files.length, 7);
    assert.match(reasons[3]!.message, /--no-reproducible/);
  });

  it('reports unreadable inputs as a stale lock', () => {
    const [reason] = decideRunReasons(facts({ drift: 'envseal.yaml:3:1: bad indentation' }));
    assert.equal(reason?.code, 'lock-stale');
    assert.match(reason!.message, /cannot be read: envseal\.yaml:3:1/);
  });
});

describe('refuseIfStrict', () => {
  it('passes when not strict or nothing was found, refuses with exit 1 naming the reasons otherwise', () => {
    const reasons = decideRunReasons(facts({ build: { reproducible: false } }));
    refuseIfStrict(reasons, false);
    refuseIfStrict([], true);
    try {
      refuseIfStrict(reasons, true);
      assert.fail('expected a refusal');
    } catch (err) {
      assert.ok(isEnvsealError(err));
      assert.equal(err.exitCode, 1);
      assert.equal(err.code, 'run.not-reproducible');
      assert.match(err.message, /refusing to run \(strict\): not-reproducible-build/);
    }
  });
});
