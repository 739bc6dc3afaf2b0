/**
 * Silence limits for the engine's long-lived streams (build, pull, push, load, export): a stream that moves no
 * byte for the limit is cancelled, so an engine that takes a connection and never answers cannot hold envseal.
 */
import { Transform, pipeline, type Readable } from 'node:stream';

/** Calls `onIdle` once when `touch()` has not been called for `idleMs`; `stop()` ends the watch. */
export class IdleWatchdog {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly idleMs: number,
    private readonly onIdle: () => void,
  ) {
    this.touch();
  }

  touch = (): void => {
    clearTimeout(this.timer);
    this.timer = setTimeout(this.onIdle, this.idleMs);
  };

  stop(): void {
    clearTimeout(this.timer);
  }

  /**
   * `source` passed through a transform that touches the watchdog on every chunk: a transform rather than a
   * 'data' listener, so whoever reads it still decides when reading starts. Errors of `source` destroy it.
   */
  watch(source: Readable): Readable {
    const touch = this.touch;
    const watched = new Transform({
      transform(chunk, _encoding, done) {
        touch();
        done(null, chunk);
      },
    });
    pipeline(source, watched, () => {});
    return watched;
  }
}

/** The stream passed through, destroyed with `onIdle()`'s error when nothing arrives for `idleMs`. */
export function guardIdle(source: Readable, idleMs: number, onIdle: () => Error): Readable {
  let guarded: Readable | undefined;
  const watchdog = new IdleWatchdog(idleMs, () => guarded?.destroy(onIdle()));
  guarded = watchdog.watch(source);
  guarded.once('close', () => watchdog.stop());
  guarded.once('end', () => watchdog.stop());
  return guarded;
}

/** "2 s", "1.5 s", "300 ms" */
export function formatDuration(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Number((ms / 1000).toFixed(1))} s`;
}
