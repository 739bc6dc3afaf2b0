/**
 * CycloneDX 1.6 JSON (https://cyclonedx.org/docs/1.6/json/) of an SBOM model, built and serialised by the
 * OWASP CycloneDX library (@cyclonedx/cyclonedx-library: its models and its JSON serializer for spec 1.6).
 * The reference for cyclonedx.ts, which writes the same bytes directly for the models envseal makes (loading
 * and running the library was a third of `verify` on a 500-package lock) and comes here for any other.
 * Canonical: the serial number is a UUID made from the model's digest and the timestamp is the lock's
 * `resolvedAt`, so the same lock always gives the same bytes. Lists come out in the model's order (code-unit
 * sorted): the library's own `sortLists` compares with `localeCompare`, which depends on the process's locale.
 */
// The library's parts, not its index: the index also loads its JSON-schema validator (ajv and friends, ~100
// modules), which envseal never uses.
import * as Enums from '@cyclonedx/cyclonedx-library/Enums';
import * as Models from '@cyclonedx/cyclonedx-library/Models';
import * as Serialize from '@cyclonedx/cyclonedx-library/Serialize';
import * as Spec from '@cyclonedx/cyclonedx-library/Spec';
import { serialUuid } from './sbom-ids.js';
import type { SbomComponent, SbomModel } from './sbom-model.js';

const HASH: Record<SbomComponent['hashes'][number]['algorithm'], Enums.HashAlgorithm> = {
  'SHA-1': Enums.HashAlgorithm['SHA-1'],
  'SHA-256': Enums.HashAlgorithm['SHA-256'],
  'SHA-384': Enums.HashAlgorithm['SHA-384'],
  'SHA-512': Enums.HashAlgorithm['SHA-512'],
};

const TYPE: Record<SbomComponent['kind'], Enums.ComponentType> = {
  container: Enums.ComponentType.Container,
  library: Enums.ComponentType.Library,
  file: Enums.ComponentType.File,
};

export function writeCycloneDxWithLibrary(model: SbomModel): string {
  const root = new Models.Component(Enums.ComponentType.Container, model.root.name, {
    bomRef: model.root.ref,
    version: model.root.fingerprint,
    description: `the environment locked in envseal.lock (fingerprint ${model.root.fingerprint})`,
    properties: new Models.PropertyRepository(model.properties.map(([n, v]) => new Models.Property(n, v))),
  });

  const tool = new Models.Component(Enums.ComponentType.Application, 'envseal', { version: model.toolVersion, bomRef: 'envseal:tool' });
  const bom = new Models.Bom({
    serialNumber: `urn:uuid:${serialUuid(model.digest, 'cyclonedx')}`,
    metadata: new Models.Metadata({
      timestamp: new Date(model.resolvedAt),
      component: root,
      tools: new Models.Tools({ components: new Models.ComponentRepository([tool]) }),
    }),
  });
  const components = model.components.map(toComponent);
  for (const c of components) bom.components.add(c);
  // The library matches dependencies to components by BomRef object identity, so edges use the components' own refs.
  const refs = new Map<string, Models.BomRef>([
    [model.root.ref, root.bomRef],
    ...components.map((c): [string, Models.BomRef] => [c.bomRef.toString(), c.bomRef]),
  ]);
  const edges = (dependsOn: string[]) => new Models.BomRefRepository(dependsOn.map((d) => refs.get(d)!).filter(Boolean));
  root.dependencies = edges(model.root.dependsOn);
  model.components.forEach((c, i) => (components[i]!.dependencies = edges(c.dependsOn)));

  const serializer = new Serialize.JsonSerializer(new Serialize.JSON.Normalize.Factory(Spec.Spec1dot6));
  return `${serializer.serialize(bom, { sortLists: false, space: 2 })}\n`;
}

function toComponent(c: SbomComponent): Models.Component {
  return new Models.Component(TYPE[c.kind], c.name, {
    bomRef: c.ref,
    version: c.version,
    ...(c.purl ? { purl: c.purl } : {}),
    hashes: new Models.HashDictionary(c.hashes.map((h) => [HASH[h.algorithm], h.hex])),
    externalReferences: new Models.ExternalReferenceRepository(
      c.downloadUrl ? [new Models.ExternalReference(c.downloadUrl, Enums.ExternalReferenceType.Distribution)] : [],
    ),
    properties: new Models.PropertyRepository(c.properties.map(([n, v]) => new Models.Property(n, v))),
  });
}
