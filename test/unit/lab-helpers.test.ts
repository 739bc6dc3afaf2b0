import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { makeTempProject } from '../lab/cli.js';
import { checkLab } from '../lab/lab.js';

describe('lab helpers', () => {
  it('makeTempProject writes nested files and cleans up', async () => {
    const project = await makeTempProject({ 'envseal.yaml': 'version: 1\n', 'src/train.py': 'print(1)\n', 'data/x.bin': new Uint8Array([1, 2]) });
    try {
      assert.equal(readFileSync(project.path('envseal.yaml'), 'utf8'), 'version: 1\n');
      assert.equal(readFileSync(project.path('src/train.py'), 'utf8'), 'print(1)\n');
      assert.deepEqual([...readFileSync(project.path('data/x.bin'))], [1, 2]);
      assert.throws(() => project.path('../escape'), /not inside the project/);
    } finally {
      await project.cleanup();
    }
    assert.equal(existsSync(project.dir), false);
    await project.cleanup();
    await assert.rejects(makeTempProject({ '../../etc/x': '' }), /not inside the project/);
  });

  it('the lab check fails (never skips) with the command that starts the lab', async () => {
    const saved = process.env.DOCKER_HOST;
    process.env.DOCKER_HOST = 'unix:///nonexistent/envseal-test/docker.sock';
    try {
      await assert.rejects(checkLab(), (err: Error) => {
        assert.match(err.message, /^test lab not available: no Docker engine answers at \/nonexistent\/envseal-test\/docker.sock/);
        assert.match(err.message, /`bash \.ci\/lab-up`/);
        return true;
      });
    } finally {
      if (saved === undefined) delete process.env.DOCKER_HOST;
      else process.env.DOCKER_HOST = saved;
    }
  });
});
