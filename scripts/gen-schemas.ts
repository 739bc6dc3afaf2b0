// Writes schema/*.json from the zod schemas: `npm run schemas`.
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateJsonSchemas } from '../src/app/json-schemas.js';

const dir = fileURLToPath(new URL('../schema/', import.meta.url));
mkdirSync(dir, { recursive: true });
for (const [file, text] of Object.entries(generateJsonSchemas())) {
  writeFileSync(join(dir, file), text);
  console.log(`wrote schema/${file}`);
}
