/**
 * Is the lab ready for the e2e tests? The same checks the tests make (engine, registry with the base image,
 * fixture index running this checkout's code); exits 0 when ready, 1 with the reason otherwise.
 * Run by scripts/run-tests.mjs before the e2e group:  node --import tsx test/lab/check-lab.ts
 */
import { checkLab, requireLabIndex } from './lab.js';

try {
  await checkLab();
  await requireLabIndex();
  console.log('lab ready');
} catch (err) {
  console.log(err instanceof Error ? err.message : String(err));
  process.exit(1);
}
