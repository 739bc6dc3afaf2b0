/** The scratch tag of a build's raw image names its owner, so the next envseal can remove a killed build's. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { scratchOwner, scratchTag } from '../../src/core/image-contract.js';
import { parseImageRef } from '../../src/core/image-ref.js';

describe('scratch tags', () => {
  it('round-trip the owner and are valid references', () => {
    const tag = scratchTag('iris', 'dev', 'build-host.example/4242', 1_700_000_000_000);
    assert.equal(tag, 'envseal-scratch/iris:dev-1700000000000-4242-build-host.example');
    assert.equal(scratchOwner(tag), 'build-host.example/4242');
    assert.equal(parseImageRef(tag).tag, 'dev-1700000000000-4242-build-host.example');
  });

  it('replace characters a tag cannot hold and stay within 128 characters', () => {
    const tag = scratchTag('iris', 'deploy', `${'h'.repeat(200)} x/7`, 1);
    const [, tagPart = ''] = tag.split(':');
    assert.ok(tagPart.length <= 128, `${tagPart.length} characters`);
    assert.match(tagPart, /^deploy-1-7-h+$/);
  });

  it('say null for references that are not scratch tags', () => {
    for (const ref of ['envseal-scratch/iris:latest', 'iris:dev-1-2-host', 'envseal-scratch/iris:dev-x-2-host', '127.0.0.1:5000/python:bookworm']) {
      assert.equal(scratchOwner(ref), null, ref);
    }
  });
});
