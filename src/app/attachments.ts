/**
 * The SBOM and the provenance statement in the registry, next to a pushed image: `build --push` attaches them
 * (oci/artifacts.ts: the referrers API, or the `sha256-<hex>.sbom` / `.att` tags), and `verify --image
 * REGISTRY/REPO@sha256:…` checks that both are there and describe the lock.
 */
import type { ImageRef, Logger } from '../core/ports.js';
import { parseImageRef } from '../core/image-ref.js';
import type { Lock } from '../lock/schema.js';
import type { Artifact, ArtifactStore, AttachedArtifact } from '../oci/artifacts.js';

/** A verify check (the shape of verify-environment.ts's VerifyCheck, which imports this file). */
interface AttachmentCheck {
  name: string;
  ok: boolean;
  summary: string;
  details: string[];
  fix?: string;
}

/** Opens the artifacts of one repository (`write`: with push access). */
export type OpenArtifacts = (ref: ImageRef, write: boolean) => Promise<ArtifactStore>;

export const SBOM_ARTIFACT = { kind: 'sbom', artifactType: 'application/vnd.cyclonedx+json', title: 'sbom.cdx.json' } as const;
export const PROVENANCE_ARTIFACT = { kind: 'att', artifactType: 'application/vnd.in-toto+json', title: 'provenance.intoto.json' } as const;

/** Attaches the SBOM (and the provenance statement, when there is one) to every pushed tag's manifest. */
export async function attachToPushed(
  pushed: { tag: string; digest: string }[],
  documents: { sbom: string; provenance: string | null },
  open: OpenArtifacts,
  logger: Logger,
): Promise<AttachedArtifact[]> {
  const artifacts: Artifact[] = [{ ...SBOM_ARTIFACT, bytes: Buffer.from(documents.sbom) }];
  if (documents.provenance !== null) artifacts.push({ ...PROVENANCE_ARTIFACT, bytes: Buffer.from(documents.provenance) });
  const all: AttachedArtifact[] = [];
  for (const { tag, digest } of pushed) {
    const store = await open(parseImageRef(tag), true);
    const attached = await store.attach(await store.subject(digest), artifacts);
    for (const a of attached) logger.progress(`attached ${a.kind} to ${tag} (${a.via === 'tag' ? `tag ${a.tag}` : `referrer ${a.digest}`})`);
    all.push(...attached);
  }
  return all;
}

/**
 * A reference that names a registry and a digest (`host[:port]/repo@sha256:…`): one whose attachments can be
 * looked up. A name without a registry host (`envseal/x@sha256:…`) is a local image only.
 */
export function registryDigestRef(text: string): ImageRef | null {
  const first = text.split('/')[0] ?? '';
  if (!text.includes('/') || !(first.includes('.') || first.includes(':') || first === 'localhost')) return null;
  const ref = parseImageRef(text);
  return ref.digest ? ref : null;
}

/** What is wrong with an attached provenance statement, given the lock and the image digest (empty: nothing). */
export function provenanceProblems(bytes: Buffer, lock: Lock, digest: string): string[] {
  let statement: { subject?: { digest?: { sha256?: string } }[]; predicate?: { buildDefinition?: { externalParameters?: { lockFingerprint?: string } } } };
  try {
    statement = JSON.parse(bytes.toString('utf8')) as typeof statement;
  } catch {
    return ['the attached provenance is not JSON'];
  }
  const problems: string[] = [];
  const fingerprint = statement.predicate?.buildDefinition?.externalParameters?.lockFingerprint;
  if (fingerprint !== lock.fingerprint)
    problems.push(`the attached provenance is for lock fingerprint ${fingerprint ?? '(none)'}, the lock has ${lock.fingerprint}`);
  if (!(statement.subject ?? []).some((s) => `sha256:${s.digest?.sha256}` === digest))
    problems.push(`the attached provenance does not name ${digest} as a subject`);
  return problems;
}

/** The `registry-attachments` check of `verify --image REGISTRY/REPO@sha256:…`. */
export async function verifyAttachments(ref: ImageRef, lock: Lock, sbomText: string, open: OpenArtifacts): Promise<AttachmentCheck> {
  const digest = ref.digest!;
  const name = `${ref.registry}/${ref.repository}@${digest}`;
  const store = await open(ref, false);
  const problems: string[] = [];
  const sbom = await store.find(digest, SBOM_ARTIFACT.artifactType, SBOM_ARTIFACT.kind);
  if (!sbom) problems.push(`no SBOM (${SBOM_ARTIFACT.artifactType}) is attached`);
  else if (sbom.bytes.toString('utf8') !== sbomText) problems.push(`the attached SBOM (${sbom.manifestDigest}) is not the lock's SBOM`);
  const provenance = await store.find(digest, PROVENANCE_ARTIFACT.artifactType, PROVENANCE_ARTIFACT.kind);
  if (!provenance) problems.push(`no provenance (${PROVENANCE_ARTIFACT.artifactType}) is attached`);
  else problems.push(...provenanceProblems(provenance.bytes, lock, digest));
  if (!problems.length) {
    return {
      name: 'registry-attachments',
      ok: true,
      summary: `${name} has the lock's SBOM and a provenance statement of this lock attached (${sbom!.via})`,
      details: [],
    };
  }
  return {
    name: 'registry-attachments',
    ok: false,
    summary: `${name}: ${problems.join('; ')}`,
    details: problems,
    fix: 'push it with `envseal build --push`, which attaches the SBOM and the provenance',
  };
}
