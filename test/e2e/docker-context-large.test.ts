/**
 * Slow test: a multi-GB file goes into the build context with bounded memory. A sparse 3 GiB file
 * (`truncate -s 3G`, no disk space used) is streamed through createBuildContext and hashed; the resident set
 * size must stay far below the file size the whole time. Runs with the e2e group (it takes seconds, and needs
 * nothing but the file system).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync, ftruncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createBuildContext } from '../../src/image/context/context.js';

const GiB = 1024 ** 3;
const SIZE = 3 * GiB;
const work = mkdtempSync(join(tmpdir(), 'envseal-large-context-'));
after(() => rmSync(work, { recursive: true, force: true }));

describe('build context with a 3 GiB file', () => {
  it('streams it with bounded memory and the exact size', { timeout: 300_000 }, async () => {
    const fd = openSync(join(work, 'weights.bin'), 'w');
    ftruncateSync(fd, SIZE); // sparse: what `truncate -s 3G` does
    closeSync(fd);
    writeFileSync(join(work, 'Dockerfile'), 'FROM scratch\nCOPY weights.bin /\n');

    global.gc?.();
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 50);

    const context = createBuildContext({ dir: work });
    const hash = createHash('sha256');
    let bytes = 0;
    try {
      for await (const chunk of context.stream) {
        hash.update(chunk as Buffer);
        bytes += (chunk as Buffer).length;
        peak = Math.max(peak, process.memoryUsage().rss);
      }
    } finally {
      clearInterval(sampler);
    }
    const summary = await context.done;

    assert.equal(summary.contentBytes, SIZE + 'FROM scratch\nCOPY weights.bin /\n'.length);
    assert.equal(summary.bytes, bytes);
    // Two 512-byte headers, the bodies padded to 512, and the two 512-byte end blocks.
    assert.equal(bytes, 512 + 512 + 512 + SIZE + 1024);
    const growth = peak - baseline;
    assert.ok(growth < 150 * 1024 * 1024, `RSS grew by ${(growth / 1024 / 1024).toFixed(0)} MiB while streaming 3 GiB`);
    assert.match(hash.digest('hex'), /^[0-9a-f]{64}$/);
  });
});
