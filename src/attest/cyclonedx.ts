/**
 * CycloneDX 1.6 JSON of an SBOM model: the bytes the OWASP CycloneDX library's JSON serializer gives for it
 * (cyclonedx-library.ts builds them through the library), written directly. Why: on a 500-package lock, loading
 * the library (and packageurl-js, which builds an Intl.Collator at load) and running its models and normaliser
 * was ~a third of `verify`, which renders the SBOM to compare it with the file. The library stays the reference:
 * any model outside what this writer is known to reproduce (an empty or repeated bom-ref, which the library
 * replaces with a random one; a hash the spec's pattern refuses, which it drops) is written by the library,
 * and test/unit/cyclonedx-direct.test.ts checks both give the same bytes on generated models (fast-check).
 *
 * What the library does, and this file repeats (serialize/json/normalize.js, spec 1.6, `sortLists: false`):
 * keys in its order, empty fields left out, hashes kept when the pattern accepts them, the first of two hashes
 * with one algorithm kept, external reference URLs with ` "'[]<>{}` percent-escaped, one dependency entry per
 * component (root first) listing known refs other than itself, once each, in the order given.
 */
import type { SbomComponent, SbomModel } from './sbom-model.js';
import { serialUuid } from './sbom-ids.js';

const HASH_VALUE = /^([a-fA-F0-9]{32})$|^([a-fA-F0-9]{40})$|^([a-fA-F0-9]{64})$|^([a-fA-F0-9]{96})$|^([a-fA-F0-9]{128})$/;
const SERIAL = /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const URI_ESCAPES: [RegExp, string][] = [
  [/ /g, '%20'],
  [/"/g, '%22'],
  [/'/g, '%27'],
  [/\[/g, '%5B'],
  [/]/g, '%5D'],
  [/</g, '%3C'],
  [/>/g, '%3E'],
  [/\{/g, '%7B'],
  [/}/g, '%7D'],
];

export async function writeCycloneDx(model: SbomModel): Promise<string> {
  if (writableDirectly(model)) return writeCycloneDxDirect(model);
  const { writeCycloneDxWithLibrary } = await import('./cyclonedx-library.js');
  return writeCycloneDxWithLibrary(model);
}

/** Whether the direct writer gives the library's bytes for this model: every bom-ref present and unique, every hash kept. */
export function writableDirectly(model: SbomModel): boolean {
  const refs = new Set<string>([model.root.ref]);
  if (!model.root.ref) return false;
  for (const c of model.components) {
    if (!c.ref || refs.has(c.ref)) return false;
    refs.add(c.ref);
    if (!c.hashes.every((h) => HASH_VALUE.test(h.hex))) return false;
  }
  return true;
}

/** The direct writer; only for models `writableDirectly` accepts. */
export function writeCycloneDxDirect(model: SbomModel): string {
  const serialNumber = `urn:uuid:${serialUuid(model.digest, 'cyclonedx')}`;
  const known = new Set<string>([model.root.ref, ...model.components.map((c) => c.ref)]);
  const dependencies = [dependency(model.root.ref, model.root.dependsOn, known), ...model.components.map((c) => dependency(c.ref, c.dependsOn, known))];
  const bom = {
    $schema: 'http://cyclonedx.org/schema/bom-1.6.schema.json',
    bomFormat: 'CycloneDX',
    specVersion: '1.6',
    version: 1,
    serialNumber: SERIAL.test(serialNumber) ? serialNumber : undefined,
    metadata: {
      timestamp: new Date(model.resolvedAt).toISOString(),
      tools: { components: [{ type: 'application', name: 'envseal', version: model.toolVersion || undefined, 'bom-ref': 'envseal:tool' }] },
      component: {
        type: 'container',
        name: model.root.name,
        version: model.root.fingerprint || undefined,
        'bom-ref': model.root.ref,
        description: `the environment locked in envseal.lock (fingerprint ${model.root.fingerprint})`,
        properties: properties(model.properties),
      },
    },
    components: model.components.map(component),
    dependencies,
  };
  return `${JSON.stringify(bom, null, 2)}\n`;
}

function component(c: SbomComponent): Record<string, unknown> {
  // One hash per algorithm (the library keeps them in a Map: the last value at the first position).
  const hashes = new Map<string, string>();
  for (const h of c.hashes) hashes.set(h.algorithm, h.hex);
  return {
    type: c.kind,
    name: c.name,
    version: c.version || undefined,
    'bom-ref': c.ref,
    hashes: hashes.size ? [...hashes].map(([alg, content]) => ({ alg, content })) : undefined,
    purl: c.purl || undefined,
    externalReferences: c.downloadUrl ? [{ url: escapeUri(c.downloadUrl), type: 'distribution' }] : undefined,
    properties: properties(c.properties),
  };
}

function properties(list: [string, string][]): { name: string; value: string }[] | undefined {
  return list.length ? list.map(([name, value]) => ({ name, value })) : undefined;
}

function dependency(ref: string, dependsOn: string[], known: Set<string>): { ref: string; dependsOn?: string[] } {
  const out = [...new Set(dependsOn.filter((d) => known.has(d)))].filter((d) => d !== ref);
  return { ref, dependsOn: out.length ? out : undefined };
}

function escapeUri(url: string): string {
  let out = url;
  for (const [pattern, replacement] of URI_ESCAPES) out = out.replace(pattern, replacement);
  return out;
}
