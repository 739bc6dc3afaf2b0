/**
 * The target probe: what the base image really is (OS, architecture, libc, Python interpreter and its PEP 508
 * marker environment), read once from a container of the pinned base so that everything else is resolved for
 * the image, never for the host; and the CUDA version the base declares in its config.
 */
import type { ContainerEngine } from '../../core/ports.js';
import { externalError, inputError } from '../../core/errors.js';
import type { TargetProbe } from '../../core/ground.js';
import { captureContainerOutput } from '../../core/container-output.js';
import { readImageCuda } from '../../core/cuda.js';

const PYTHON_PROBE = String.raw`
import json, os, platform, sys, sysconfig
def fmt(info):
    v = "%d.%d.%d" % (info.major, info.minor, info.micro)
    if info.releaselevel != "final":
        v += info.releaselevel[0] + str(info.serial)
    return v
markers = {
    "implementation_name": sys.implementation.name,
    "implementation_version": fmt(sys.implementation.version),
    "os_name": os.name,
    "platform_machine": platform.machine(),
    "platform_release": platform.release(),
    "platform_system": platform.system(),
    "platform_version": platform.version(),
    "python_full_version": platform.python_version(),
    "platform_python_implementation": platform.python_implementation(),
    "python_version": ".".join(platform.python_version_tuple()[:2]),
    "sys_platform": sys.platform,
}
stdlib = sysconfig.get_path("stdlib") or ""
print("ENVSEAL_PY=" + json.dumps({
    "executable": sys.executable,
    "version": platform.python_version(),
    "implementation": sys.implementation.name,
    "abiflags": getattr(sys, "abiflags", ""),
    "soabi": sysconfig.get_config_var("SOABI"),
    "externallyManaged": os.path.exists(os.path.join(stdlib, "EXTERNALLY-MANAGED")),
    "markers": markers,
}))
`;

/** A POSIX sh script: prints `ENVSEAL_<KEY>=value` lines. The Python part runs only if the interpreter exists. */
export function probeScript(interpreter: string | null): string {
  const py = interpreter
    ? `if command -v ${shq(interpreter)} >/dev/null 2>&1; then ${shq(interpreter)} -c ${shq(PYTHON_PROBE)} || echo ENVSEAL_PY_FAILED=1; else echo ENVSEAL_PY_MISSING=1; fi`
    : '';
  return [
    'if [ -r /etc/os-release ]; then . /etc/os-release; fi',
    'printf "ENVSEAL_OS=%s|%s|%s\\n" "${ID:-unknown}" "${VERSION_ID:-}" "${VERSION_CODENAME:-}"',
    'printf "ENVSEAL_PATH=%s\\n" "$PATH"',
    'printf "ENVSEAL_MACHINE=%s\\n" "$(uname -m)"',
    'if command -v dpkg >/dev/null 2>&1; then printf "ENVSEAL_ARCH=%s\\n" "$(dpkg --print-architecture)"; fi',
    'if command -v apt-get >/dev/null 2>&1; then echo ENVSEAL_APT=1; fi',
    'g=$(getconf GNU_LIBC_VERSION 2>/dev/null || true); if [ -n "$g" ]; then printf "ENVSEAL_LIBC=glibc|%s\\n" "${g#glibc }"; fi',
    'for l in /lib/ld-musl-*.so.1; do if [ -e "$l" ]; then printf "ENVSEAL_LIBC=musl|%s\\n" "$("$l" 2>&1 | sed -n "s/^Version //p")"; fi; break; done',
    py,
  ]
    .filter(Boolean)
    .join('\n');
}

/** Parses the probe's output. Pure. */
export function parseProbeOutput(stdout: string, interpreter: string | null, image: string): TargetProbe {
  const values = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const m = /^ENVSEAL_([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) values.set(m[1]!, m[2]!);
  }
  const [id = 'unknown', versionId = '', codename = ''] = (values.get('OS') ?? 'unknown||').split('|');
  const machine = values.get('MACHINE');
  if (!machine) throw externalError('probe.failed', `probing ${image} printed nothing usable`, { details: stdout.split('\n').slice(-10) });
  const libcRaw = values.get('LIBC');
  let libc: TargetProbe['libc'] = null;
  if (libcRaw) {
    const [kind, version] = libcRaw.split('|');
    if ((kind === 'glibc' || kind === 'musl') && version) libc = { kind, version };
  }
  let python: TargetProbe['python'] = null;
  if (interpreter) {
    if (values.has('PY_MISSING')) {
      throw inputError('probe.no-python', `the base image ${image} has no ${interpreter} on its PATH`, {
        hint: 'pick a base image with Python, add python3 to `apt.packages`, or set `python.interpreter` to its path',
      });
    }
    const json = values.get('PY');
    if (!json) throw externalError('probe.failed', `running ${interpreter} in ${image} failed`, { details: stdout.split('\n').slice(-10) });
    python = JSON.parse(json) as TargetProbe['python'];
  }
  return {
    os: { id, versionId, codename },
    architecture: values.get('ARCH') ?? machine,
    machine,
    path: values.get('PATH') ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    libc,
    hasApt: values.has('APT'),
    python,
  };
}

export async function probeTarget(engine: ContainerEngine, image: string, interpreter: string | null, signal?: AbortSignal): Promise<TargetProbe> {
  const run = await captureContainerOutput(engine, {
    image,
    cmd: ['/bin/sh', '-c', probeScript(interpreter)],
    networkMode: 'none',
    ...(signal ? { signal } : {}),
  });
  signal?.throwIfAborted();
  if (run.exitCode !== 0 && !run.stdout.includes('ENVSEAL_MACHINE=')) {
    throw externalError('probe.failed', `probing the base image ${image} failed (exit ${run.exitCode})`, {
      details: (run.stderr || run.stdout).trim().split('\n').slice(-10),
      hint: 'the base image needs /bin/sh',
    });
  }
  const probe = parseProbeOutput(run.stdout, interpreter, image);
  // The CUDA version is in the image's config (env and labels), which the engine has since the probe ran a container of it.
  const info = await engine.inspectImage(image);
  const cuda = info ? readImageCuda(info) : null;
  return cuda ? { ...probe, cuda } : probe;
}

function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
