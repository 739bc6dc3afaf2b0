/**
 * The PEP 440 / PEP 508 conformance vectors (test/fixtures/conformance/pep440-508.json), computed with
 * `packaging`, typed for the pep-*.test.ts files.
 */
import { readFileSync } from 'node:fs';
import type { MarkerEnvironment } from '../../src/ecosystems/python/pep/marker.js';

export interface Conformance {
  oracle: string;
  versions: {
    input: string;
    normalized: string;
    is_prerelease: boolean;
    is_postrelease: boolean;
    is_devrelease: boolean;
    public: string;
    local: string | null;
  }[];
  version_order: string[];
  invalid_versions: string[];
  specifier_contains: { specifier: string; version: string; contains: boolean; contains_prereleases: boolean }[];
  environments: Record<string, MarkerEnvironment>;
  markers: { marker: string; environment: string; extra: string | null; result: boolean | string }[];
  requirements: {
    input: string;
    name: string;
    extras: string[];
    specifier: string;
    url: string | null;
    marker: string | null;
  }[];
  invalid_requirements: string[];
}

export const conformance: Conformance = JSON.parse(readFileSync(new URL('../fixtures/conformance/pep440-508.json', import.meta.url), 'utf8'));
