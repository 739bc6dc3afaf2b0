/** Ctrl-C for commands that clean up after themselves (build, run, verify, lock). */
import type { CommandContext } from './context.js';

/** Aborts on the first Ctrl-C (SIGINT/SIGTERM); a second one is left to the default handler. */
export function interruptSignal(ctx: CommandContext): { signal: AbortSignal; dispose: () => void; exitCode: () => number | undefined } {
  const controller = new AbortController();
  let received: NodeJS.Signals | undefined;
  const dispose = ctx.io.onInterrupt?.((name) => {
    received = name ?? 'SIGINT';
    ctx.out.log('interrupted: stopping (press Ctrl-C again to force)');
    controller.abort();
  });
  // The shell's convention (128 + signal number).
  const exitCode = () => (received === undefined ? undefined : received === 'SIGTERM' ? 143 : 130);
  return { signal: controller.signal, dispose: dispose ?? (() => {}), exitCode };
}

/**
 * Runs `work` with a Ctrl-C signal; when it was interrupted, whatever it threw (a cancellation, a stopped
 * container's failure) becomes the shell's exit code (130/143) after one line saying what was stopped.
 */
export async function interruptible<T>(ctx: CommandContext, what: string, work: (signal: AbortSignal) => Promise<T>): Promise<T | { interrupted: number }> {
  const { signal, dispose, exitCode } = interruptSignal(ctx);
  try {
    return await work(signal);
  } catch (err) {
    const code = exitCode();
    if (code === undefined) throw err;
    ctx.out.log(`${what} interrupted; nothing was written`);
    return { interrupted: code };
  } finally {
    dispose();
  }
}
