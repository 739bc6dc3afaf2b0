/**
 * The target as the resolver sees it: the interpreter and platform from the target probe (never the host),
 * turned into the supported wheel tags in pip's order (`pep/tags.ts`, PEP 425 / 600 / 656) and a short
 * description for messages.
 */
import { inputError } from '../../../core/errors.js';
import type { TargetProbe } from '../../../core/ground.js';
import { computeSupportedTags, formatTag, rankWheel, type TargetInterpreter } from '../pep/tags.js';
import type { TargetFit } from './candidates.js';

/** "CPython 3.11.2 on Linux x86_64 (glibc 2.36)". */
export function describeTarget(target: TargetProbe): string {
  const py = target.python;
  const impl = py ? (py.implementation === 'cpython' ? 'CPython' : py.implementation) : 'no Python';
  const libc = target.libc ? ` (${target.libc.kind} ${target.libc.version})` : '';
  const system = py?.markers.platform_system ?? 'Linux';
  return `${impl} ${py?.version ?? ''} on ${system} ${target.machine}${libc}`.replace(/\s+/g, ' ');
}

function parseTwo(version: string): [number, number] | null {
  const m = /^(\d+)\.(\d+)/.exec(version);
  return m ? [Number(m[1]), Number(m[2])] : null;
}

/** The tag target of a probe; input errors for interpreters the tag rules do not cover. */
export function targetInterpreterOf(target: TargetProbe): TargetInterpreter {
  const py = target.python;
  if (!py) throw inputError('python.no-target-python', 'the target has no Python interpreter to resolve for');
  if (py.implementation !== 'cpython') {
    throw inputError('python.unsupported-interpreter', `the target's Python is ${py.implementation} ${py.version}; envseal resolves wheels for CPython only`, {
      hint: 'use a base image with CPython',
    });
  }
  const pythonVersion = parseTwo(py.version);
  if (!pythonVersion) throw inputError('python.unsupported-interpreter', `the target's Python version ${JSON.stringify(py.version)} is not readable`);
  let libc: TargetInterpreter['libc'] = null;
  if (target.libc) {
    const v = parseTwo(target.libc.version);
    if (v) libc = { kind: target.libc.kind, version: v };
  }
  return { implementation: 'cpython', pythonVersion, abiFlags: py.abiflags, machine: py.markers.platform_machine ?? target.machine, libc };
}

/** What candidate selection needs to know about the target. */
export function targetFitFor(target: TargetProbe): TargetFit {
  const supported = computeSupportedTags(targetInterpreterOf(target));
  // Indexes repeat the same few tag sets thousands of times: rank each set once.
  const ranks = new Map<string, number | undefined>();
  return {
    pythonVersion: target.python!.version,
    rankWheelTags: (tags) => {
      const key = tags.map(formatTag).join(' ');
      if (!ranks.has(key)) ranks.set(key, rankWheel(tags, supported) ?? undefined);
      return ranks.get(key);
    },
    description: describeTarget(target),
  };
}
