import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TEMPLATES_DIR, TOOL_VERSION } from '../../src/core/version.js';

test('the tool version is package.json’s and templates/ is found from where version.ts lives', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  assert.equal(TOOL_VERSION, pkg.version);
  assert.ok(existsSync(fileURLToPath(new URL('Dockerfile.tmpl', TEMPLATES_DIR))), `${TEMPLATES_DIR.href} has no Dockerfile.tmpl`);
});
