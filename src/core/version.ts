import { readFileSync } from 'node:fs';

/** envseal's own version, from package.json (two levels above src/core/ and dist/core/). */
export const TOOL_VERSION: string = (() => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
})();

/** templates/ ships next to dist/ and src/. */
export const TEMPLATES_DIR = new URL('../../templates/', import.meta.url);
