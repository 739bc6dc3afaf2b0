/**
 * in-toto Attestation Framework Statement v1 (https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md,
 * resource_descriptor.md, digest_set.md) with a SLSA Provenance v1 predicate (https://slsa.dev/spec/v1.0/provenance),
 * as zod schemas written from those spec texts. envseal checks its own statements against them before
 * writing one; strict where the specs say MUST, open (passthrough) where they allow extension.
 */
import { z } from 'zod';

/** A URI (RFC 3986): a scheme, a colon and no whitespace. */
const typeUri = z.string().regex(/^[A-Za-z][A-Za-z0-9+.-]*:\S+$/, 'must be a URI');
const timestamp = z.iso.datetime({ offset: false, local: false });

/** Hex lengths of the algorithms envseal writes; gitCommit is SHA-1 or SHA-256 object name. */
const DIGEST_LENGTHS: Record<string, number[]> = { sha1: [40], sha256: [64], sha384: [96], sha512: [128], gitCommit: [40, 64] };

/** DigestSet: algorithm → lowercase hex; at least one entry. */
const digestSet = z
  .record(z.string().regex(/^[A-Za-z0-9_-]+$/, 'must be an algorithm name'), z.string().regex(/^[0-9a-f]+$/, 'digest values are lowercase hex'))
  .refine((d) => Object.keys(d).length > 0, 'must have at least one digest')
  .refine((d) => Object.entries(d).every(([alg, hex]) => DIGEST_LENGTHS[alg]?.includes(hex.length) ?? true), 'a digest has the wrong length for its algorithm');

/** ResourceDescriptor: at least one of uri, digest, content. */
const resourceDescriptor = z
  .strictObject({
    uri: typeUri.optional(),
    digest: digestSet.optional(),
    content: z.base64().optional(),
    name: z.string().min(1).optional(),
    downloadLocation: typeUri.optional(),
    mediaType: z.string().optional(),
    annotations: z.record(z.string(), z.unknown()).optional(),
  })
  .refine((r) => r.uri !== undefined || r.digest !== undefined || r.content !== undefined, 'a resource descriptor needs uri, digest or content');

export const slsaProvenanceV1Schema = z.strictObject({
  buildDefinition: z.strictObject({
    buildType: typeUri,
    externalParameters: z.record(z.string(), z.unknown()),
    internalParameters: z.record(z.string(), z.unknown()).optional(),
    resolvedDependencies: z.array(resourceDescriptor).optional(),
  }),
  runDetails: z.strictObject({
    builder: z.strictObject({
      id: typeUri,
      version: z.record(z.string(), z.string()).optional(),
      builderDependencies: z.array(resourceDescriptor).optional(),
    }),
    metadata: z
      .strictObject({
        invocationId: z.string().optional(),
        startedOn: timestamp.optional(),
        finishedOn: timestamp.optional(),
      })
      .optional(),
    byproducts: z.array(resourceDescriptor).optional(),
  }),
});

export const inTotoStatementV1Schema = z.strictObject({
  _type: z.literal('https://in-toto.io/Statement/v1'),
  /** Resource descriptors that MUST have a digest (and here a name). */
  subject: z
    .array(z.strictObject({ name: z.string().min(1), digest: digestSet, uri: typeUri.optional(), annotations: z.record(z.string(), z.unknown()).optional() }))
    .min(1),
  predicateType: z.literal('https://slsa.dev/provenance/v1'),
  predicate: slsaProvenanceV1Schema,
});
export type InTotoStatement = z.infer<typeof inTotoStatementV1Schema>;
