/**
 * Image builds over the Engine API: POST /build with the context tar as the body, its JSON-lines answer read
 * to the end. A build's HTTP response starts before the build has done anything, and a failed step arrives
 * inside that 200 stream as `errorDetail`, so success is decided by stream.ts's BuildStreamInterpreter, not
 * by the status (research/mechanisms.md §1).
 *
 * Builds use the classic builder (`version=1`): BuildKit through dockerode needs a gRPC session it does not
 * fully serve (research §1.4).
 */
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import type { BuildOptions, BuildResult, EngineBuilder } from '../../core/ports.js';
import { EnvsealError, describeError, externalError } from '../../core/errors.js';
import { BuildStreamInterpreter, describeBuildFailure } from './stream.js';
import { DockerConnection, StreamAborted, TIMEOUT_HINT, asError, httpFailureOf, readJsonLines } from './connection.js';
import { IdleWatchdog, formatDuration } from './deadline.js';

type StopReason = 'signal' | 'timeout' | 'idle';

export class DockerBuilder implements EngineBuilder {
  constructor(private readonly connection: DockerConnection) {}

  /** POST /build (classic builder) with the context tar as the body; see the module comment. */
  async build(context: Readable, options: BuildOptions): Promise<BuildResult> {
    const interpreter = new BuildStreamInterpreter(options.onEvent);
    const controller = new AbortController();
    let stopReason: StopReason | undefined;
    // Silence on both sides (the context upload stalled, no answer line) for the idle limit cancels the build:
    // an engine that takes the connection and never answers must not hold `build` forever.
    const idle = new IdleWatchdog(this.connection.streamIdleMs, () => {
      stopReason ??= 'idle';
      controller.abort();
    });
    const onAbort = () => {
      stopReason ??= 'signal';
      controller.abort();
    };
    if (options.signal?.aborted) onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const timer = options.timeoutMs
      ? setTimeout(() => {
          stopReason ??= 'timeout';
          controller.abort();
        }, options.timeoutMs)
      : undefined;
    let contextError: unknown;
    context.on('error', (err) => {
      contextError ??= err;
    });
    const upload = idle.watch(context);
    // A broken context stream is the real cause of whatever the engine then says; a stop is ours.
    const explain = (err: unknown, streaming: boolean): unknown => {
      if (contextError !== undefined) return asError(contextError);
      if (stopReason || (streaming && err instanceof StreamAborted)) return this.stopped(stopReason ?? 'signal', options, interpreter);
      return streaming ? this.connectionBroke(err, interpreter) : rejection(err);
    };

    try {
      let response: IncomingMessage;
      try {
        response = await this.connection.request<IncomingMessage>({
          method: 'POST',
          path: '/build',
          query: buildQuery(options),
          file: upload,
          stream: true,
          ok: [200],
          signal: controller.signal,
          timeoutMs: null,
          action: 'build',
        });
      } catch (err) {
        throw explain(err, false);
      }
      idle.touch();
      response.on('data', idle.touch);
      try {
        await readJsonLines(response, (line) => interpreter.acceptLine(line), controller.signal);
      } catch (err) {
        throw explain(err, true);
      }
      return buildResult(interpreter);
    } catch (err) {
      if (!context.destroyed && !context.readableEnded) context.destroy();
      throw err;
    } finally {
      if (timer) clearTimeout(timer);
      idle.stop();
      options.signal?.removeEventListener('abort', onAbort);
      if (!upload.destroyed && !upload.readableEnded) upload.destroy();
    }
  }

  private stopped(reason: StopReason, options: BuildOptions, interpreter: BuildStreamInterpreter): EnvsealError {
    if (reason !== 'idle') return buildStopped(reason, options, interpreter);
    const step = interpreter.currentStep();
    const at = step ? ` at step ${step.step}/${step.totalSteps} (${step.instruction})` : '';
    const silence = formatDuration(this.connection.streamIdleMs);
    return externalError('build.timeout', `build cancelled: the Docker engine at ${this.connection.endpoint} sent nothing for ${silence}${at}`, {
      hint: `the engine or a build step is stuck; ${TIMEOUT_HINT}`,
      details: interpreter.currentStepOutput(),
    });
  }

  private connectionBroke(err: unknown, interpreter: BuildStreamInterpreter): EnvsealError {
    const step = interpreter.currentStep();
    const during = step ? ` during step ${step.step}/${step.totalSteps}` : '';
    return externalError(
      'build.failed',
      `build failed: the connection to the Docker engine at ${this.connection.endpoint} broke${during}: ${describeError(err)}`,
      {
        hint: 'check that the engine is still running (its log may say why), then build again',
        details: interpreter.currentStepOutput(),
        cause: err,
      },
    );
  }
}

/** The query of POST /build: tags, Dockerfile path, classic builder, cleanup of failed steps, options. */
function buildQuery(options: BuildOptions): Record<string, unknown> {
  const query: Record<string, unknown> = {
    t: options.tags,
    dockerfile: options.dockerfile,
    version: '1',
    rm: true,
    // Also remove the intermediate container of a failed step (Docker keeps it by default).
    forcerm: true,
  };
  if (options.target) query.target = options.target;
  if (options.networkMode) query.networkmode = options.networkMode;
  if (options.noCache) query.nocache = true;
  if (options.pull) query.pull = true;
  if (options.platform) query.platform = options.platform;
  if (options.labels && Object.keys(options.labels).length) query.labels = options.labels;
  if (options.buildArgs && Object.keys(options.buildArgs).length) query.buildargs = options.buildArgs;
  return query;
}

/** The engine refused the build before streaming (bad Dockerfile path, bad options): its message says why. */
function rejection(err: unknown): unknown {
  const failure = httpFailureOf(err);
  if (!failure) return err;
  return externalError('build.failed', `build failed: the Docker engine rejected the build: ${failure.message}`, {
    hint: 'check the Dockerfile path and the build options',
    data: { httpStatus: failure.statusCode },
  });
}

/** The image ID of a stream that ended; a failed step or a missing ID is an error. */
function buildResult(interpreter: BuildStreamInterpreter): BuildResult {
  const outcome = interpreter.finish();
  if (outcome.failure) {
    const failure = outcome.failure;
    throw externalError('build.failed', describeBuildFailure(failure), {
      hint: 'the last output lines of the failing step are listed with this error; fix the instruction or its inputs and build again',
      details: failure.stepOutput,
      data: {
        ...(failure.step !== undefined ? { step: failure.step, totalSteps: failure.totalSteps, instruction: failure.instruction } : {}),
        ...(failure.code !== undefined ? { exitCode: failure.code } : {}),
      },
    });
  }
  if (!outcome.imageId) {
    throw externalError('build.failed', 'build failed: the build stream ended without an image ID and without an error', {
      hint: 'the engine may have stopped mid-build; check its log and build again',
      details: outcome.log.slice(-30),
    });
  }
  return { imageId: outcome.imageId, log: outcome.log };
}

function buildStopped(reason: StopReason, options: BuildOptions, interpreter: BuildStreamInterpreter): EnvsealError {
  const step = interpreter.currentStep();
  const at = step ? ` at step ${step.step}/${step.totalSteps} (${step.instruction})` : '';
  if (reason === 'timeout') {
    return externalError('build.timeout', `build stopped after ${options.timeoutMs} ms${at}`, {
      hint: 'raise the build timeout, or find the slow step in the output',
      details: interpreter.currentStepOutput(),
    });
  }
  return externalError('build.aborted', `build cancelled${at}`, { details: interpreter.currentStepOutput() });
}
