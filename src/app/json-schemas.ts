/**
 * The published JSON Schemas (schema/*.json) for the three formats users commit and exchange: the env spec,
 * the lock and the run record. Generated from the zod schemas the code itself validates with, so they
 * cannot drift (a unit test compares the committed files with this output).
 */
import { z } from 'zod';
import { lockSchema } from '../lock/schema.js';
import { runRecordSchema } from '../record/schema.js';
import { specSchema } from '../envspec/schema.js';
import { canonicalJson } from '../core/canonical-json.js';

const BASE = 'https://envseal.dev/schema';

export function generateJsonSchemas(): Record<string, string> {
  const make = (schema: z.ZodType, file: string, title: string, description: string, io: 'input' | 'output') => {
    const json = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as Record<string, unknown>;
    return canonicalJson({ ...json, $id: `${BASE}/${file}`, title, description });
  };
  return {
    'envseal.spec.schema.json': make(
      specSchema,
      'envseal.spec.schema.json',
      'envseal.yaml',
      'The envseal env spec (version 1): what a project declares about its environment.',
      'input',
    ),
    'envseal.lock.schema.json': make(
      lockSchema,
      'envseal.lock.schema.json',
      'envseal.lock',
      'The envseal lock (lockVersion 1): the declared inputs and the resolved environment with its fingerprint.',
      'output',
    ),
    'run-record.schema.json': make(
      runRecordSchema,
      'run-record.schema.json',
      'envseal run record',
      'One envseal run (recordVersion 4): .envseal/runs/<run-id>.json.',
      'output',
    ),
  };
}
