/**
 * conda `environment.yml`, read as far as it can be honoured exactly without a conda solver: `python` (its
 * version becomes a check against the base image's interpreter), `pip` (the venv has it) and the `pip:`
 * section (requirements-file lines, locked like requirements.txt). Every other conda package, a build string,
 * and `variables:` are errors naming what and where: silently dropping them would change the environment.
 * Pure: text in; the `pip:` lines come back as requirements-file text with each line at its YAML line number,
 * so the requirements parser's `file:line` messages point into environment.yml.
 */
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Node } from 'yaml';
import { inputError } from '../../../core/errors.js';

export interface CondaEnvironment {
  /** A PEP 440 specifier set for the interpreter (`==3.11.*`), '' for a bare `python`, null when not listed. */
  python: { specifier: string; line: number } | null;
  /** The `pip:` entries as requirements-file text, each on its own line number in the YAML file. */
  pipText: string;
}

const KNOWN_KEYS = new Set(['name', 'channels', 'dependencies', 'prefix']);
/** `[channel::]name[ version[ build]]` or `name<op>version[=build]`. */
const MATCH_SPEC = /^(?:[A-Za-z0-9_.\-/]+::)?([A-Za-z0-9_.-]+)\s*(.*)$/;

export function parseCondaEnvironment(text: string, file: string): CondaEnvironment {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  const at = (node: Node | null | undefined) => (node?.range ? lines.linePos(node.range[0]).line : 1);
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    throw inputError('manifest.invalid', `${file}:${lines.linePos(e.pos[0]).line}: not valid YAML: ${e.message.split('\n')[0]}`);
  }
  const root = doc.contents;
  if (!isMap(root)) throw inputError('manifest.invalid', `${file}: expected a conda environment (a mapping with \`dependencies:\`)`);
  let python: CondaEnvironment['python'] = null;
  const pip: { line: number; text: string }[] = [];
  const refused: string[] = [];
  for (const pair of root.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '';
    if (key === 'variables') {
      throw inputError('manifest.conda-variables', `${file}:${at(pair.key as Node)}: \`variables:\` (set on conda activation) is not read by envseal`, {
        hint: 'set the variables under `env:` in envseal.yaml, and remove them here',
      });
    }
    if (!KNOWN_KEYS.has(key)) throw inputError('manifest.invalid', `${file}:${at(pair.key as Node)}: unknown key \`${key}\` in a conda environment`);
  }
  const deps = root.get('dependencies', true) as Node | undefined;
  if (deps === undefined || deps === null) return { python, pipText: '' };
  if (!isSeq(deps)) throw inputError('manifest.invalid', `${file}:${at(deps)}: \`dependencies\` must be a list`);
  for (const item of deps.items as Node[]) {
    if (isMap(item)) {
      const pipList = item.get('pip', true) as Node | undefined;
      if (item.items.length !== 1 || !pipList || !isSeq(pipList)) {
        throw inputError('manifest.invalid', `${file}:${at(item)}: a mapping in \`dependencies\` must be \`pip: [...]\``);
      }
      for (const entry of pipList.items as Node[]) {
        if (!isScalar(entry) || typeof entry.value !== 'string') throw inputError('manifest.invalid', `${file}:${at(entry)}: pip entries must be strings`);
        pip.push({ line: at(entry), text: entry.value });
      }
      continue;
    }
    if (!isScalar(item) || typeof item.value !== 'string') throw inputError('manifest.invalid', `${file}:${at(item)}: dependencies must be package specs`);
    const spec = item.value.trim();
    const match = MATCH_SPEC.exec(spec);
    const name = match?.[1]?.toLowerCase() ?? spec;
    if (name === 'pip') continue;
    if (name === 'python') {
      python = { specifier: condaToPep440(match![2]!.trim(), file, at(item)), line: at(item) };
      continue;
    }
    refused.push(`${file}:${at(item)}: ${spec}`);
  }
  if (refused.length) {
    throw inputError(
      'manifest.conda-package',
      `${file}: ${refused.length} conda package${refused.length === 1 ? '' : 's'} envseal cannot install (it reads python, pip and the pip: section)`,
      {
        details: refused,
        hint: 'move Python packages under `pip:` (by their PyPI names), system libraries to `apt:` in envseal.yaml; envseal does not run a conda solver',
      },
    );
  }
  const out: string[] = [];
  for (const { line, text: entry } of pip) {
    while (out.length < line - 1) out.push('');
    out.push(entry.replace(/\n/g, ' '));
  }
  return { python, pipText: out.length ? `${out.join('\n')}\n` : '' };
}

/**
 * A conda version spec for `python` as a PEP 440 specifier set: `3.11` and `=3.11` mean 3.11.* (conda's fuzzy
 * match), `==3.11.2` is exact, `>=3.10,<3.13` passes through. Build strings and `|` alternatives are refused.
 */
export function condaToPep440(spec: string, file: string, line: number): string {
  if (!spec) return '';
  const refuse = (why: string) =>
    inputError('manifest.conda-python', `${file}:${line}: python ${spec}: ${why}`, {
      hint: 'write the version as python=3.11, python==3.11.2 or python>=3.10,<3.13',
    });
  if (spec.includes('|')) throw refuse('alternatives (`|`) are not supported');
  const parts = spec.replace(/\s+/g, ' ').split(',');
  return parts
    .map((raw) => {
      const part = raw.trim().replace(/(==|>=|<=|!=|~=|>|<|=)\s+/g, '$1');
      // `python 3.11.* h123_cpython` / `python=3.11=h123`: a second field is a build string.
      if (part.includes(' ')) throw refuse('build strings are not supported');
      const op = /^(==|>=|<=|!=|~=|>|<|=)?(.*)$/.exec(part)!;
      const version = op[2]!;
      if (version.includes('=')) throw refuse('build strings are not supported');
      if (!/^\d+(\.\d+)*(\.\*)?$/.test(version)) throw refuse(`"${version}" is not a version`);
      const operator = op[1] ?? '';
      if (operator === '' || operator === '=') return version.endsWith('.*') ? `==${version}` : `==${version}.*`;
      return `${operator}${version}`;
    })
    .join(',');
}
