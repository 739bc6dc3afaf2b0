import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { generateJsonSchemas } from '../../src/app/json-schemas.js';

test('the committed JSON Schemas in schema/ are what the zod schemas generate', () => {
  for (const [file, text] of Object.entries(generateJsonSchemas())) {
    const committed = readFileSync(new URL(`../../schema/${file}`, import.meta.url), 'utf8');
    assert.equal(committed, text, `schema/${file} is out of date: run \`npm run schemas\``);
    const schema = JSON.parse(text);
    assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
    assert.equal(schema.type, 'object');
  }
});

test('the spec schema documents required keys and forbids unknown ones', () => {
  const spec = JSON.parse(generateJsonSchemas()['envseal.spec.schema.json']!);
  assert.deepEqual([...spec.required].sort(), ['base', 'name', 'version']);
  assert.equal(spec.additionalProperties, false);
  const lock = JSON.parse(generateJsonSchemas()['envseal.lock.schema.json']!);
  assert.ok(lock.required.includes('fingerprint'));
});
