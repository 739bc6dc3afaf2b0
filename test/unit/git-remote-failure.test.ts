/**
 * How a failed `git ls-remote`/`git fetch` is reported (record/git-sources.ts remoteFailure): ssh's own reason
 * when ssh gave one, else git's `fatal:` line rather than the advice git prints after it. Exit 3 each time.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EnvsealError } from '../../src/core/errors.js';
import { remoteFailure } from '../../src/record/git-sources.js';

const run = (stderr: string) => ({ exitCode: 128, signal: null, stdout: Buffer.alloc(0), stderr, timedOut: false });
const ADVICE = 'fatal: Could not read from remote repository.\n\nPlease make sure you have the correct access rights\nand the repository exists.\n';
const failure = (repo: string, stderr: string) => {
  const err = remoteFailure(`git fetch ${repo}`, repo, run(stderr));
  assert.ok(err instanceof EnvsealError);
  assert.equal(err.exitCode, 3);
  return err;
};

describe('remoteFailure', () => {
  it('nothing listening on the ssh port: vcs.unreachable with ssh reason, not the last advice line', () => {
    const err = failure('ssh://git@127.0.0.1:9/x.git', `ssh: connect to host 127.0.0.1 port 9: Connection refused\r\n${ADVICE}`);
    assert.equal(err.code, 'vcs.unreachable');
    assert.equal(err.message, 'git fetch ssh://git@127.0.0.1:9/x.git failed (exit 128): ssh: connect to host 127.0.0.1 port 9: Connection refused');
    assert.match(err.hint ?? '', /host and port/);
  });

  it('a refused key and an unknown host key keep their own codes', () => {
    assert.equal(failure('ssh://git@h/x.git', `git@h: Permission denied (publickey).\r\n${ADVICE}`).code, 'vcs.ssh-auth');
    assert.equal(
      failure('ssh://git@h/x.git', `No ED25519 host key is known for h and you have requested strict checking.\nHost key verification failed.\n${ADVICE}`).code,
      'vcs.ssh-host-key',
    );
    assert.equal(failure('ssh://git@h/x.git', `ssh: Could not resolve hostname h: Name or service not known\r\n${ADVICE}`).code, 'vcs.unreachable');
  });

  it("over https, git's fatal line is the reason", () => {
    const err = failure('https://example.invalid/x.git', "fatal: unable to access 'https://example.invalid/x.git/': Could not resolve host: example.invalid\n");
    assert.equal(err.code, 'vcs.unreachable');
    assert.match(err.message, /failed \(exit 128\): fatal: unable to access .*Could not resolve host: example\.invalid$/);
    const advised = failure('https://example.invalid/x.git', `remote: not found\n${ADVICE}`);
    assert.match(advised.message, /: fatal: Could not read from remote repository\.$/);
  });
});
