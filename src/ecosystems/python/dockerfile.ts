/**
 * The python wing's Dockerfile blocks: the venv (or the interpreter's own site-packages), hash-checked pip
 * installs without resolution (`--require-hashes --no-deps`; wheels required by URL as `name @ URL`), and the
 * seed hook. Pure.
 */
import { internalError } from '../../core/errors.js';
import { continued, dockerfileQuote, shellQuote } from '../../core/dockerfile-quote.js';
import { INDEX_CREDENTIALS_ARG } from '../../core/image-contract.js';
import { splitUrlCredentials } from '../../core/url-credentials.js';
import type { DockerfileSection, RenderContext } from '../types.js';
import type { LockedPythonPackage, PythonSection } from './schema.js';
import { BUILT_WHEELS_DIR, buildCommands } from './sdist-build.js';
import { installGroups, type InstallGroup } from './install-layers.js';
import { parseLockedGitUrl, vcsArchiveInBuild, vcsArchivePath } from './manifests/vcs-url.js';

/** templates/ file the seed hook is read from. */
export const SEED_HOOK_ASSET = 'envseal_seed.py';

export function renderPython(py: PythonSection, ctx: RenderContext): DockerfileSection {
  const main = py.packages.filter((p) => p.targets.includes('deploy'));
  const dev = py.packages.filter((p) => p.targets.length === 1 && p.targets[0] === 'dev');
  if (!main.length && !dev.length) return {};
  const hook = ctx.assets[SEED_HOOK_ASSET];
  if (hook === undefined) throw internalError('generate.no-asset', `templates/${SEED_HOOK_ASSET} was not loaded`);
  const deps = [
    `# Python: ${summarize(py, main.length, dev.length)}. Installed hash-checked (--require-hashes) without resolution (--no-deps).`,
    renderSetup(py, ctx),
    ...(main.length ? [LAYERS_COMMENT] : []),
    ...(main.length ? [renderInstall(py, ctx, main)] : []),
    '# Seed hook (templates/envseal_seed.py): seeds random, NumPy, PyTorch and TensorFlow when ENVSEAL_SEED is set.',
    renderSeedHook(py, hook),
  ].join('\n');
  const built = py.packages.filter((p) => p.build);
  return {
    depsEnv: ['PIP_DISABLE_PIP_VERSION_CHECK=1', 'PIP_NO_CACHE_DIR=1'],
    ...(built.length ? { stages: renderBuilderStage(py, ctx, built) } : {}),
    deps,
    ...(dev.length ? { dev: renderInstall(py, ctx, dev) } : {}),
  };
}

/** The stage the sdists are built in (docs/dockerfile.md): each wheel is checked against the sha256 the lock recorded. */
export const SDIST_STAGE = 'python-sdists';

function renderBuilderStage(py: PythonSection, ctx: RenderContext, built: LockedPythonPackage[]): string {
  const runs = built.map((p) => {
    const check = shellQuote(`${p.build!.wheel.sha256}  ${BUILT_WHEELS_DIR}/${p.build!.wheel.filename}`);
    const body = [...buildCommands(py, p, p.build!), `printf '%s\\n' ${check} | sha256sum -c -`];
    const git = parseLockedGitUrl(p.file.url);
    const from = git ? `${p.file.url} (archive ${vcsArchivePath(git.commit, p.file.filename)})` : p.file.filename;
    return [
      `# ${p.name} ${p.version}: ${from} built with ${p.build!.deps.map((d) => `${d.name} ${d.version}`).join(', ')}`,
      ...(git
        ? [
            '# The archive of the locked commit, written into the project by `envseal lock` / `envseal build`; pip checks its sha256.',
            `COPY ${vcsArchivePath(git.commit, p.file.filename)} ${vcsArchiveInBuild(git.commit, p.file.filename)}`,
          ]
        : []),
      ...withCredentials(body, ''),
    ].join('\n');
  });
  return [
    '# ---------------------------------------------------------------------------------------------------------',
    `# ${SDIST_STAGE}: the locked sdists built into wheels with their locked build requirements (hash-checked, no`,
    '# other index files), SOURCE_DATE_EPOCH from the lock; the wheel must have the sha256 the lock recorded.',
    `FROM ${ctx.base.pinned} AS ${SDIST_STAGE}`,
    'ENV LANG=C.UTF-8 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1',
    ...runs,
  ].join('\n');
}

/** `body` run with the index credentials of build arg INDEX_CREDENTIALS_ARG as a netrc file, removed at the end with `cleanup`. */
function withCredentials(body: string[], cleanup: string): string[] {
  const arg = INDEX_CREDENTIALS_ARG;
  return [
    `# Index credentials, if needed: netrc text in build arg ${arg}, used and removed in this step (docs/credentials.md).`,
    `RUN netrc="\${${arg}:-\${${arg.toLowerCase()}:-}}" && unset ${arg} ${arg.toLowerCase()} \\`,
    ` && if [ -n "$netrc" ]; then (umask 077 && printf '%s\\n' "$netrc" > ${NETRC_IN_BUILD}) && export NETRC=${NETRC_IN_BUILD}; fi \\`,
    ...body.map((l) => ` && ${l} \\`),
    `    ; status=$?; rm -f ${NETRC_IN_BUILD}${cleanup}; exit $status`,
  ];
}

function summarize(py: PythonSection, main: number, dev: number): string {
  const where = py.venv ? `venv ${py.venv}${py.systemSitePackages ? ' (sees system site-packages)' : ''}` : `${py.interpreter} site-packages`;
  return `${main} locked package${main === 1 ? '' : 's'}${dev ? ` (+${dev} for dev)` : ''} into ${where}`;
}

function renderSetup(py: PythonSection, ctx: RenderContext): string {
  if (!ctx.target.python) throw internalError('generate.no-python', 'the lock has Python packages but the target has no Python');
  if (py.venv) {
    return [
      `RUN ${shellQuote(py.interpreter)} -m venv${py.systemSitePackages ? ' --system-site-packages' : ''} ${shellQuote(py.venv)}`,
      `ENV VIRTUAL_ENV=${dockerfileQuote(py.venv, 'venv path')} \\`,
      `    PATH=${dockerfileQuote(`${py.venv}/bin:${ctx.target.path}`, 'PATH')}`,
    ].join('\n');
  }
  // No venv: make `python` name the same interpreter as `python3` where the base has no `python`.
  return `RUN command -v python >/dev/null 2>&1 || ln -s "$(command -v ${shellQuote(py.interpreter)})" /usr/local/bin/python`;
}

const NETRC_IN_BUILD = '/tmp/envseal-netrc';

const LAYERS_COMMENT = [
  '# One install step per platform-specific wheel (largest first), then the pure-Python wheels, then those built',
  '# from sdists: a changed pin re-runs its own step and the ones after it; the others come from the build cache.',
].join('\n');

/** One pip step per install group (install-layers.ts), bottom first, each with a line saying what it holds. */
function renderInstall(py: PythonSection, ctx: RenderContext, packages: LockedPythonPackage[]): string {
  const groups = installGroups(packages);
  return groups.map((g, i) => [`# Python install step ${i + 1}/${groups.length}: ${describeGroup(g)}.`, renderPip(py, ctx, g.packages)].join('\n')).join('\n');
}

function describeGroup(g: InstallGroup): string {
  const n = g.packages.length;
  const plural = (what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  switch (g.kind) {
    case 'platform': {
      const p = g.packages[0]!;
      const size = p.file.size === undefined ? '' : `, ${(p.file.size / 1e6).toFixed(1)} MB`;
      return `${p.name} ${p.version} (platform-specific wheel${size})`;
    }
    case 'platform-rest':
      return `${plural('smaller platform-specific wheel')} (past the limit of one step each)`;
    case 'pure':
      return plural('pure-Python wheel');
    case 'built':
      return `${plural('package')} built in stage ${SDIST_STAGE}`;
  }
}

function renderPip(py: PythonSection, ctx: RenderContext, packages: LockedPythonPackage[]): string {
  // A lock written before credentials were kept out of it may still hold userinfo: never copy it here.
  const [first, ...extra] = py.indexes.map((u) => splitUrlCredentials(u).url);
  const indexArgs = [first ? `--index-url ${shellQuote(first)}` : '--no-index', ...extra.map((u) => `--extra-index-url ${shellQuote(u)}`)];
  const python = py.venv ? 'python' : shellQuote(py.interpreter);
  const breakSystem = !py.venv && ctx.target.python?.externallyManaged ? ' --break-system-packages' : '';
  const onlyBinary = packages.every((p) => p.file.filename.endsWith('.whl') || p.build) ? ' --only-binary :all:' : '';
  const lines = packages.map((p) =>
    shellQuote(
      p.build
        ? `${p.name} @ file://${BUILT_WHEELS_DIR}/${p.build.wheel.filename} --hash=sha256:${p.build.wheel.sha256}`
        : `${pipRequirement(p)} --hash=sha256:${p.file.sha256}`,
    ),
  );
  const built = packages.some((p) => p.build);
  const arg = INDEX_CREDENTIALS_ARG;
  return [
    ...(built
      ? [
          `# The wheels built from sdists in stage ${SDIST_STAGE}, installed hash-checked like any other.`,
          `COPY --from=${SDIST_STAGE} ${BUILT_WHEELS_DIR}/ ${BUILT_WHEELS_DIR}/`,
        ]
      : []),
    `# Index credentials, if needed: netrc text in build arg ${arg}, used and removed in this step (docs/credentials.md).`,
    continued("RUN printf '%s\\n'", lines) + ' \\',
    '      > /tmp/envseal-requirements.txt \\',
    ` && netrc="\${${arg}:-\${${arg.toLowerCase()}:-}}" && unset ${arg} ${arg.toLowerCase()} \\`,
    ` && if [ -n "$netrc" ]; then (umask 077 && printf '%s\\n' "$netrc" > ${NETRC_IN_BUILD}) && export NETRC=${NETRC_IN_BUILD}; fi \\`,
    ` && ${python} -m pip install --no-input --no-deps --require-hashes${onlyBinary}${breakSystem} \\`,
    `      ${indexArgs.join(' ')} \\`,
    '      -r /tmp/envseal-requirements.txt; \\',
    `    status=$?; rm -f${built ? 'r' : ''} ${NETRC_IN_BUILD} /tmp/envseal-requirements.txt${built ? ` ${BUILT_WHEELS_DIR}` : ''}; exit $status`,
  ].join('\n');
}

/** `name==version`, or `name @ URL` for a wheel required by URL (pip checks its --hash as for any file). */
export function pipRequirement(p: LockedPythonPackage): string {
  return p.direct ? `${p.name} @ ${splitUrlCredentials(p.file.url).url}` : `${p.name}==${p.version}`;
}

// The hook goes where the interpreter looks for .pth files (the venv's or the interpreter's purelib), written
// with printf so the Dockerfile needs no file from outside the project to build.
function renderSeedHook(py: PythonSection, hook: string): string {
  const python = py.venv ? 'python' : shellQuote(py.interpreter);
  const lines = hook
    .replace(/\n+$/, '')
    .split('\n')
    .map((l) => (l === '' ? "''" : shellQuote(l)));
  return [
    `RUN site="$(${python} -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')" \\`,
    ` && mkdir -p "$site" \\`,
    continued(" && printf '%s\\n'", lines) + ' \\',
    '      > "$site/envseal_seed.py" \\',
    ` && echo 'import envseal_seed' > "$site/envseal-seed.pth" \\`,
    // Compiled now, hash-checked: otherwise the first later Python start (pip in the dev stage) imports it
    // through the .pth and writes a timestamp pyc holding the build's clock, so clean builds differ. -B: this
    // very start imports it too; -f: compileall would otherwise keep that timestamp pyc as up to date.
    ` && ${python} -B -m compileall -f -q --invalidation-mode checked-hash "$site/envseal_seed.py"`,
  ].join('\n');
}
