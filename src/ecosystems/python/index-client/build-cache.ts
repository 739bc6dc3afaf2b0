/**
 * The on-disk cache of lock-time sdist builds (`$ENVSEAL_CACHE_DIR/sdist-builds/`): what building an sdist in the
 * base image gave (the wheel's name and sha256, its METADATA), by a key naming the sdist's sha256, the base
 * image digest, the interpreter and the locked build requirements, so a re-lock does not build again. Private
 * like the HTTP cache (directory 0700, files 0600): a build of a private index's sdist is as confidential as it.
 */
import { createHash } from 'node:crypto';
import { chmod, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../../core/atomic-write.js';
import type { BuildResultCache, Logger } from '../../../core/ports.js';
import { silentLogger } from '../../../core/ports.js';

export class FileBuildCache implements BuildResultCache {
  constructor(
    private readonly dir: string,
    private readonly logger: Logger = silentLogger,
  ) {}

  private path(key: string): string {
    return join(this.dir, `${createHash('sha256').update(key).digest('hex')}.json`);
  }

  async get(key: string): Promise<string | undefined> {
    try {
      const entry = JSON.parse(await readFile(this.path(key), 'utf8')) as { key?: unknown; value?: unknown };
      return entry.key === key && typeof entry.value === 'string' ? entry.value : undefined;
    } catch {
      return undefined;
    }
  }

  async put(key: string, value: string): Promise<void> {
    try {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      await chmod(this.dir, 0o700);
      await writeFileAtomic(this.path(key), JSON.stringify({ key, value }), { mode: 0o600 });
    } catch (err) {
      this.logger.warn(`could not write the sdist build cache in ${this.dir}: ${(err as Error).message}`);
    }
  }
}
