/**
 * SLSA provenance v1 (https://slsa.dev/spec/v1.0/provenance) in an in-toto Statement v1 for an image envseal
 * built: the subject is the image (its ID, and the manifest digest of each pushed tag); the resolved
 * dependencies are everything the lock pins (base image digest, every Python file hash, npm integrity hashes
 * or the lockfile hash, apt versions in their purls), the lock file itself and the git commit; the external
 * parameters are the target, platform and lock fingerprint. Pure; checked against the in-toto/SLSA schema
 * (in-toto-schema.ts) before it is returned. The statement is not signed (SLSA Build L1: provenance exists).
 */
import { canonicalJson } from '../core/canonical-json.js';
import { internalError } from '../core/errors.js';
import { formatImageName, parseImageRef } from '../core/image-ref.js';
import type { ImageBuildRecord } from '../record/image-build-record.js';
import { inTotoStatementV1Schema, type InTotoStatement } from './in-toto-schema.js';
import type { SbomComponent, SbomModel } from './sbom-model.js';

/** What an envseal build is, for readers of `buildType` (documented in docs/sbom.md). */
export const BUILD_TYPE = 'urn:envseal:build-type:docker-image:v1';

const DIGEST_KEY: Record<SbomComponent['hashes'][number]['algorithm'], string> = {
  'SHA-1': 'sha1',
  'SHA-256': 'sha256',
  'SHA-384': 'sha384',
  'SHA-512': 'sha512',
};

type Descriptor = NonNullable<InTotoStatement['predicate']['buildDefinition']['resolvedDependencies']>[number];

export interface ProvenanceInput {
  model: SbomModel;
  build: ImageBuildRecord;
  /** `sha256:<hex>` of the lock file's bytes. */
  lockDigest: string;
  lockFile: string;
  sourceDateEpoch: number;
  toolVersion: string;
}

export function buildProvenance(input: ProvenanceInput): InTotoStatement {
  const { build, model } = input;
  const hex = (digest: string) => digest.slice('sha256:'.length);
  const subject = [
    { name: build.tags[0] ?? model.root.name, digest: { sha256: hex(build.imageId) }, annotations: { kind: 'image ID (config digest)', tags: build.tags } },
    ...build.pushed.map((p) => ({
      name: formatImageName(parseImageRef(p.tag)),
      digest: { sha256: hex(p.digest) },
      annotations: { kind: 'pushed manifest', tag: p.tag },
    })),
  ];
  const resolvedDependencies: Descriptor[] = [
    { name: input.lockFile, digest: { sha256: hex(input.lockDigest) }, annotations: { fingerprint: model.root.fingerprint } },
    ...(build.revision ? [{ name: 'source', digest: { gitCommit: build.revision } }] : []),
    ...model.components.map(componentDescriptor),
  ];
  const statement: InTotoStatement = {
    _type: 'https://in-toto.io/Statement/v1',
    subject,
    predicateType: 'https://slsa.dev/provenance/v1',
    predicate: {
      buildDefinition: {
        buildType: BUILD_TYPE,
        externalParameters: {
          target: build.target,
          platform: build.platform ?? null,
          lockFingerprint: build.fingerprint,
          lockDigest: build.lockDigest,
          network: build.network ?? null,
          reproducible: build.reproducible,
          tags: build.tags,
        },
        internalParameters: { sourceDateEpoch: input.sourceDateEpoch },
        resolvedDependencies,
      },
      runDetails: {
        builder: { id: `pkg:npm/envseal@${input.toolVersion}`, version: { envseal: input.toolVersion } },
        metadata: { finishedOn: new Date(build.builtAt).toISOString().replace(/\.\d{3}Z$/, 'Z') },
        byproducts: build.diffIds.map((d, i) => ({ name: `layer ${i + 1} (diff ID)`, digest: { sha256: hex(d) } })),
      },
    },
  };
  const checked = inTotoStatementV1Schema.safeParse(statement);
  if (!checked.success) {
    throw internalError('provenance.invalid', 'the provenance statement does not match the in-toto Statement v1 / SLSA provenance v1 schema', {
      details: checked.error.issues.map((i) => `${i.path.map(String).join('.')}: ${i.message}`),
    });
  }
  return statement;
}

export function serializeProvenance(statement: InTotoStatement): string {
  return canonicalJson(statement);
}

function componentDescriptor(c: SbomComponent): Descriptor {
  const digest = Object.fromEntries(c.hashes.map((h) => [DIGEST_KEY[h.algorithm], h.hex]));
  const filename = c.properties.find(([n]) => n === 'envseal:filename')?.[1];
  return {
    ...(c.purl ? { uri: c.purl } : {}),
    name: filename ?? c.name,
    ...(c.hashes.length ? { digest } : {}),
    ...(c.downloadUrl ? { downloadLocation: c.downloadUrl } : {}),
    ...(c.purl ? {} : { annotations: Object.fromEntries(c.properties) }),
  };
}
