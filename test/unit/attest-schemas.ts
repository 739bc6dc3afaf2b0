/** Validators for the documents envseal writes, against their official JSON schemas (see sbom.test.ts). */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Spec, Validation } from '@cyclonedx/cyclonedx-library';
import { Ajv } from 'ajv';

const spdxSchema = JSON.parse(readFileSync(new URL('../fixtures/schemas/spdx-2.3.schema.json', import.meta.url), 'utf8')) as object;
export const validateSpdxSchema = new Ajv({ allErrors: true, strict: false }).compile(spdxSchema);

/** Null when valid, else the library's error report. */
export async function cycloneDxErrors(text: string): Promise<unknown> {
  return new Validation.JsonStrictValidator(Spec.Version.v1dot6).validate(text);
}

export async function assertValidCycloneDx(text: string): Promise<void> {
  const errors = await cycloneDxErrors(text);
  assert.equal(errors, null, `CycloneDX 1.6 schema: ${JSON.stringify(errors, null, 2)}`);
}

export function assertValidSpdx(text: string): void {
  const ok = validateSpdxSchema(JSON.parse(text));
  assert.ok(ok, `SPDX 2.3 schema: ${JSON.stringify(validateSpdxSchema.errors, null, 2)}`);
}
