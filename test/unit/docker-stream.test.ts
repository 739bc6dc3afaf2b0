import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { BuildEvent, ContainerRunOptions, ContainerRunResult, ContainerEngine } from '../../src/core/ports.js';
import {
  BuildStreamInterpreter,
  DockerFrameDecoder,
  JsonLineSplitter,
  ProgressStreamCollector,
  classifyStartError,
  describeBuildFailure,
  findLoadedImages,
  findPushedDigest,
  parseDaemonLine,
  stripAnsi,
} from '../../src/engines/docker/stream.js';
import { captureContainerOutput } from '../../src/core/container-output.js';

/** The body of a real classic build whose last RUN fails (Docker 20.10, recorded with curl). */
const FAILING_BUILD = [
  '{"stream":"Step 1/3 : FROM local/python:bookworm"}',
  '{"stream":"\\n"}',
  '{"stream":" ---\\u003e 0e15628bf775\\n"}',
  '{"stream":"Step 2/3 : RUN echo hi \\u0026\\u0026 echo err \\u003e\\u00262"}',
  '{"stream":"\\n"}',
  '{"stream":" ---\\u003e [Warning] IPv4 forwarding is disabled. Networking will not work.\\n"}',
  '{"stream":" ---\\u003e Running in 567d9e0f0059\\n"}',
  '{"stream":"\\u001b[91merr\\n\\u001b[0m"}',
  '{"stream":"hi\\n"}',
  '{"stream":"Removing intermediate container 567d9e0f0059\\n"}',
  '{"stream":" ---\\u003e 6de41b0a0d43\\n"}',
  '{"stream":"Step 3/3 : RUN echo before; exit 3"}',
  '{"stream":"\\n"}',
  '{"stream":" ---\\u003e Running in 7bf608d724d4\\n"}',
  '{"stream":"before\\n"}',
  '{"stream":"Removing intermediate container 7bf608d724d4\\n"}',
  '{"errorDetail":{"code":3,"message":"The command \'/bin/sh -c echo before; exit 3\' returned a non-zero code: 3"},"error":"The command \'/bin/sh -c echo before; exit 3\' returned a non-zero code: 3"}',
].join('\r\n');

const SUCCESSFUL_BUILD = [
  '{"stream":"Step 1/2 : FROM local/python:bookworm"}',
  '{"stream":"\\n"}',
  '{"stream":" ---\\u003e 0e15628bf775\\n"}',
  '{"stream":"Step 2/2 : RUN echo hi"}',
  '{"stream":"\\n"}',
  '{"stream":" ---\\u003e Running in 1234\\n"}',
  '{"stream":"hi\\n"}',
  '{"aux":{"ID":"sha256:6de41b0a0d434340ce155a0b8a081a6953b30196ccf6ed79cf307f4e2cfdb7f0"}}',
  '{"stream":"Successfully built 6de41b0a0d43\\n"}',
  '{"stream":"Successfully tagged x:1\\n"}',
  '',
].join('\n');

/** Feeds `text` to a splitter in chunks of `size` bytes and returns all lines. */
function splitInChunks(text: string | Buffer, size: number): string[] {
  const bytes = Buffer.isBuffer(text) ? text : Buffer.from(text, 'utf8');
  const splitter = new JsonLineSplitter();
  const lines: string[] = [];
  for (let i = 0; i < bytes.length; i += size) lines.push(...splitter.push(bytes.subarray(i, i + size)));
  lines.push(...splitter.end());
  return lines;
}

function interpret(body: string, chunkSize = 7): { events: BuildEvent[]; outcome: ReturnType<BuildStreamInterpreter['finish']> } {
  const events: BuildEvent[] = [];
  const interpreter = new BuildStreamInterpreter((event) => events.push(event));
  for (const line of splitInChunks(body, chunkSize)) interpreter.acceptLine(line);
  return { events, outcome: interpreter.finish() };
}

describe('JsonLineSplitter', () => {
  it('gives the same lines whatever the chunk boundaries', () => {
    const whole = splitInChunks(FAILING_BUILD, FAILING_BUILD.length);
    assert.equal(whole.length, 17);
    for (const size of [1, 2, 3, 5, 8, 13, 64, 512]) assert.deepEqual(splitInChunks(FAILING_BUILD, size), whole, `chunk size ${size}`);
  });

  it('reassembles a UTF-8 character split across chunks', () => {
    const text = '{"stream":"Grüße ✓ 🐳\\n"}\n';
    const bytes = Buffer.from(text, 'utf8');
    for (let size = 1; size <= 4; size++) {
      const [line] = splitInChunks(bytes, size);
      assert.equal(JSON.parse(line!).stream, 'Grüße ✓ 🐳\n');
    }
  });

  it('drops empty lines and CRs, and returns a last line without a newline at the end', () => {
    assert.deepEqual(splitInChunks('a\r\n\r\n\nb\n  \nc', 2), ['a', 'b', 'c']);
  });
});

describe('parseDaemonLine', () => {
  it('reports a non-JSON line instead of throwing', () => {
    assert.deepEqual(parseDaemonLine('<html>502 Bad Gateway</html>'), { ok: false, raw: '<html>502 Bad Gateway</html>' });
    assert.deepEqual(parseDaemonLine('{"stream":"trunc'), { ok: false, raw: '{"stream":"trunc' });
    assert.deepEqual(parseDaemonLine('[1,2]'), { ok: false, raw: '[1,2]' });
    assert.deepEqual(parseDaemonLine('42'), { ok: false, raw: '42' });
  });

  it('takes the error from errorDetail, or from error alone', () => {
    const both = parseDaemonLine('{"errorDetail":{"code":3,"message":"detail"},"error":"plain"}');
    assert.deepEqual(both, { ok: true, message: { error: { message: 'detail', code: 3 } } });
    const plain = parseDaemonLine('{"error":"plain"}');
    assert.deepEqual(plain, { ok: true, message: { error: { message: 'plain' } } });
  });

  it('keeps only well-typed fields', () => {
    const parsed = parseDaemonLine('{"stream":5,"status":"Pulling","id":"abc","progress":"[==>]","aux":"text"}');
    assert.deepEqual(parsed, { ok: true, message: { status: 'Pulling', id: 'abc', progress: '[==>]' } });
  });
});

describe('BuildStreamInterpreter', () => {
  it('turns a successful build into step and output events and an image ID', () => {
    const { events, outcome } = interpret(SUCCESSFUL_BUILD);
    assert.equal(outcome.imageId, 'sha256:6de41b0a0d434340ce155a0b8a081a6953b30196ccf6ed79cf307f4e2cfdb7f0');
    assert.equal(outcome.failure, undefined);
    assert.deepEqual(
      events.filter((e) => e.kind === 'step'),
      [
        { kind: 'step', step: 1, totalSteps: 2, text: 'FROM local/python:bookworm' },
        { kind: 'step', step: 2, totalSteps: 2, text: 'RUN echo hi' },
      ],
    );
    assert.ok(events.some((e) => e.kind === 'output' && e.text === 'hi'));
    assert.ok(outcome.log.includes('Successfully tagged x:1'));
  });

  it('reports the failing step, its instruction, exit code and output (without builder chatter)', () => {
    const { events, outcome } = interpret(FAILING_BUILD);
    assert.equal(outcome.imageId, undefined);
    assert.deepEqual(outcome.failure, {
      message: "The command '/bin/sh -c echo before; exit 3' returned a non-zero code: 3",
      code: 3,
      step: 3,
      totalSteps: 3,
      instruction: 'RUN echo before; exit 3',
      stepOutput: ['before'],
    });
    assert.equal(
      describeBuildFailure(outcome.failure!),
      "build failed at step 3/3 (RUN echo before; exit 3): The command '/bin/sh -c echo before; exit 3' returned a non-zero code: 3",
    );
    assert.deepEqual(
      events.filter((e) => e.kind === 'warning').map((e) => e.text),
      ['IPv4 forwarding is disabled. Networking will not work.'],
    );
    // stderr of a RUN comes wrapped in ANSI colour codes; the log holds plain text.
    assert.ok(outcome.log.includes('err'));
    assert.ok(!outcome.log.some((line) => line.includes('\u001b')));
  });

  it('keeps only the last 30 output lines of the failing step', () => {
    const lines = ['{"stream":"Step 1/1 : RUN noisy"}', '{"stream":"\\n"}'];
    for (let i = 1; i <= 100; i++) lines.push(JSON.stringify({ stream: `line ${i}\n` }));
    lines.push('{"errorDetail":{"message":"boom"},"error":"boom"}');
    const { outcome } = interpret(lines.join('\n'));
    assert.equal(outcome.failure?.stepOutput.length, 30);
    assert.equal(outcome.failure?.stepOutput[0], 'line 71');
    assert.equal(outcome.failure?.stepOutput[29], 'line 100');
  });

  it('treats a malformed line as output and carries on', () => {
    const body = ['{"stream":"Step 1/1 : RUN x"}', '{"stream":"\\n"}', 'not json at all', '{"stream":"after\\n"}', '{"aux":{"ID":"sha256:abc"}}'].join('\n');
    const { events, outcome } = interpret(body, 3);
    assert.ok(events.some((e) => e.kind === 'output' && e.text === 'not json at all'));
    assert.ok(events.some((e) => e.kind === 'output' && e.text === 'after'));
    assert.equal(outcome.imageId, 'sha256:abc');
  });

  it('reports an error before any step without a step number', () => {
    const { outcome } = interpret('{"errorDetail":{"message":"dockerfile parse error line 1: unknown instruction: FORM"},"error":"x"}\n');
    assert.equal(outcome.failure?.step, undefined);
    assert.equal(describeBuildFailure(outcome.failure!), 'build failed: dockerfile parse error line 1: unknown instruction: FORM');
  });

  it('keeps the first error when the daemon sends several', () => {
    const { outcome } = interpret('{"error":"first"}\n{"error":"second"}\n');
    assert.equal(outcome.failure?.message, 'first');
  });

  it('ignores BuildKit trace aux messages but takes the moby.image.id aux', () => {
    const body = [
      '{"id":"moby.buildkit.trace","aux":"CgsKCXNvbWV0aGluZw=="}',
      '{"id":"moby.buildkit.trace","aux":{"ID":"sha256:wrong"}}',
      '{"id":"moby.image.id","aux":{"ID":"sha256:right"}}',
    ].join('\n');
    assert.equal(interpret(body).outcome.imageId, 'sha256:right');
  });

  it('shows pull progress of the base image as status events, without logging every progress tick', () => {
    const body = [
      '{"status":"Pulling from python","id":"bookworm"}',
      '{"status":"Downloading","progressDetail":{"current":1,"total":9},"progress":"[=>  ]","id":"abc"}',
      '{"status":"Download complete","id":"abc"}',
    ].join('\n');
    const { events, outcome } = interpret(body);
    assert.deepEqual(
      events.map((e) => `${e.kind}:${e.text}`),
      ['status:bookworm: Pulling from python', 'status:abc: Downloading', 'status:abc: Download complete'],
    );
    assert.deepEqual(outcome.log, ['bookworm: Pulling from python', 'abc: Download complete']);
  });

  it('does not let a throwing event listener break the build', () => {
    const interpreter = new BuildStreamInterpreter(() => {
      throw new Error('listener bug');
    });
    for (const line of splitInChunks(SUCCESSFUL_BUILD, 10)) interpreter.acceptLine(line);
    assert.ok(interpreter.finish().imageId);
  });

  it('shortens a long instruction in the failure message', () => {
    const message = describeBuildFailure({ message: 'm', step: 1, totalSteps: 1, instruction: `RUN ${'x'.repeat(200)}`, stepOutput: [] });
    assert.ok(message.length < 120, message);
    assert.match(message, /^build failed at step 1\/1 \(RUN x+…\): m$/);
  });
});

describe('stripAnsi', () => {
  it('removes colour and cursor sequences', () => {
    assert.equal(stripAnsi('\u001b[91merr\u001b[0m \u001b[2K\u001b[1Gdone'), 'err done');
  });
});

describe('pull / push / load streams', () => {
  function collect(lines: string[]) {
    const collector = new ProgressStreamCollector();
    for (const line of lines) collector.acceptLine(line);
    return collector.finish();
  }

  it('finds the pushed digest in the aux message', () => {
    const summary = collect([
      '{"status":"The push refers to repository [127.0.0.1:5000/x]"}',
      '{"status":"Pushed","progressDetail":{},"id":"5f70bf18a086"}',
      `{"status":"1: digest: sha256:${'a'.repeat(64)} size: 528"}`,
      `{"progressDetail":{},"aux":{"Tag":"1","Digest":"sha256:${'b'.repeat(64)}","Size":528}}`,
    ]);
    assert.equal(findPushedDigest(summary), `sha256:${'b'.repeat(64)}`);
    assert.equal(summary.error, undefined);
  });

  it('falls back to the digest status line', () => {
    const summary = collect([`{"status":"1: digest: sha256:${'c'.repeat(64)} size: 528"}`]);
    assert.equal(findPushedDigest(summary), `sha256:${'c'.repeat(64)}`);
  });

  it('reports no digest when the push said none, and keeps the stream error', () => {
    const summary = collect(['{"status":"Preparing","id":"x"}', '{"errorDetail":{"message":"unauthorized: authentication required"},"error":"unauthorized"}']);
    assert.equal(findPushedDigest(summary), undefined);
    assert.equal(summary.error?.message, 'unauthorized: authentication required');
  });

  it('lists loaded images from split stream text', () => {
    const summary = collect([
      '{"stream":"Loaded image ID: sha256:'.concat('d'.repeat(64), '\\n"}'),
      '{"stream":"Loaded ima"}',
      '{"stream":"ge: team/app:1\\n"}',
      'garbage',
    ]);
    assert.deepEqual(findLoadedImages(summary), [`sha256:${'d'.repeat(64)}`, 'team/app:1']);
    assert.deepEqual(summary.malformed, ['garbage']);
  });
});

describe('DockerFrameDecoder', () => {
  function frame(type: number, text: string): Buffer {
    const data = Buffer.from(text);
    const header = Buffer.alloc(8);
    header[0] = type;
    header.writeUInt32BE(data.length, 4);
    return Buffer.concat([header, data]);
  }

  it('separates stdout and stderr across any chunk boundaries', () => {
    const stream = Buffer.concat([frame(1, 'out 1\n'), frame(2, 'err 1\n'), frame(1, ''), frame(1, 'out 2\n'), frame(2, 'x'.repeat(70000))]);
    for (const size of [1, 3, 7, 8, 9, 100, stream.length]) {
      const decoder = new DockerFrameDecoder();
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      for (let i = 0; i < stream.length; i += size) {
        for (const f of decoder.push(stream.subarray(i, i + size))) (f.stream === 'stdout' ? out : err).push(f.data);
      }
      assert.equal(Buffer.concat(out).toString(), 'out 1\nout 2\n', `chunk size ${size}`);
      assert.equal(Buffer.concat(err).toString(), `err 1\n${'x'.repeat(70000)}`);
      assert.equal(decoder.pendingBytes(), 0);
    }
  });

  it('passes a stream that is not multiplexed through as stdout', () => {
    const decoder = new DockerFrameDecoder();
    const frames = [...decoder.push(Buffer.from('plain tty out')), ...decoder.push(Buffer.from('put\n'))];
    assert.equal(Buffer.concat(frames.map((f) => f.data)).toString(), 'plain tty output\n');
    assert.ok(frames.every((f) => f.stream === 'stdout'));
  });

  it('reports an incomplete frame at the end', () => {
    const decoder = new DockerFrameDecoder();
    decoder.push(frame(1, 'hello').subarray(0, 10));
    assert.equal(decoder.pendingBytes(), 10);
  });
});

describe('classifyStartError', () => {
  // Messages from Docker 20.10 / runc 1.1 (POST /containers/{id}/start).
  it('recognises a command that is not on PATH', () => {
    const message =
      'failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "nosuchcmd": executable file not found in $PATH: unknown';
    assert.deepEqual(classifyStartError(message), { kind: 'command-not-found', command: 'nosuchcmd' });
  });

  it('recognises a missing absolute path', () => {
    const message =
      'failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "/nonexist/bin": stat /nonexist/bin: no such file or directory: unknown';
    assert.deepEqual(classifyStartError(message), { kind: 'command-not-found', command: '/nonexist/bin' });
  });

  it('recognises a file that is not executable', () => {
    const message =
      'failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "/etc/passwd": permission denied: unknown';
    assert.deepEqual(classifyStartError(message), { kind: 'command-not-executable', command: '/etc/passwd' });
  });

  it('recognises a GPU request without a GPU runtime', () => {
    assert.deepEqual(classifyStartError('could not select device driver "" with capabilities: [[gpu]]'), { kind: 'no-gpu' });
  });

  it('leaves other failures unclassified', () => {
    assert.deepEqual(classifyStartError('Cannot mkdir: /etc/passwd is not a directory'), { kind: 'other' });
    assert.deepEqual(classifyStartError('error mounting "/x" to rootfs: no such file or directory'), { kind: 'other' });
  });
});

describe('captureContainerOutput', () => {
  /** An engine whose "container" writes fixed output: enough to test the collecting, not Docker. */
  function engineWriting(stdout: string, stderr: string, exitCode: number): ContainerEngine & { seen?: ContainerRunOptions } {
    const engine = {
      seen: undefined as ContainerRunOptions | undefined,
      async runContainer(options: ContainerRunOptions): Promise<ContainerRunResult> {
        engine.seen = options;
        options.stdout?.write(Buffer.from(stdout));
        options.stderr?.write(Buffer.from(stderr));
        return { exitCode, containerId: 'c1' };
      },
    };
    return engine as unknown as ContainerEngine & { seen?: ContainerRunOptions };
  }

  it('returns the exit code and both outputs as strings, never as a TTY', async () => {
    const engine = engineWriting('ok ✓\n', 'warn\n', 4);
    const result = await captureContainerOutput(engine, { image: 'img', cmd: ['x'] });
    assert.deepEqual(result, { exitCode: 4, containerId: 'c1', stdout: 'ok ✓\n', stderr: 'warn\n', truncated: false });
    assert.equal(engine.seen?.tty, false);
    assert.deepEqual(engine.seen?.cmd, ['x']);
  });

  it('cuts output beyond maxBytes and says so', async () => {
    const result = await captureContainerOutput(engineWriting('0123456789', 'ab', 0), { image: 'img', cmd: ['x'], maxBytes: 4 });
    assert.equal(result.stdout, '0123');
    assert.equal(result.stderr, 'ab');
    assert.equal(result.truncated, true);
  });
});
