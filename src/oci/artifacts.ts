/**
 * Artifacts attached to an image in a registry (an SBOM, an in-toto statement): each is an OCI image manifest
 * with an `artifactType`, the empty config, one layer holding the document, and a `subject` naming the image
 * manifest (distribution-spec v1.1 "Pushing Manifests with Subject"). Where the registry serves the referrers
 * API (`GET /v2/<repo>/referrers/<digest>` answers 200) it is pushed by digest and found through that API;
 * otherwise (a 404 there: Docker's registry 2.x, for one) it is pushed under the tag `sha256-<hex>.<kind>`,
 * the convention cosign and others use, and found by that tag.
 */
import { createHash } from 'node:crypto';
import type { ImageRef } from '../core/ports.js';
import { externalError, inputError } from '../core/errors.js';
import type { HttpResponse } from '../http/http.js';
import type { RepositorySession } from './oci-registry.js';
import { MANIFEST_ACCEPT, describeRef, describeRegistryError } from './registry-documents.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const EMPTY_CONFIG = { mediaType: 'application/vnd.oci.empty.v1+json', bytes: Buffer.from('{}') };

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

export interface Artifact {
  /** Short name: the fallback tag's suffix (`sbom`, `att`). */
  kind: string;
  artifactType: string;
  /** File name in the layer's `org.opencontainers.image.title` annotation. */
  title: string;
  bytes: Uint8Array;
}

export interface AttachedArtifact {
  kind: string;
  /** Digest of the artifact manifest. */
  digest: string;
  via: 'referrers' | 'tag';
  /** The fallback tag, when `via` is `tag`. */
  tag?: string;
}

export function sha256Of(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** The tag-schema fallback for an artifact of `kind` about `subjectDigest`: `sha256-<hex>.<kind>`. */
export function fallbackTag(subjectDigest: string, kind: string): string {
  return `${subjectDigest.replace(':', '-')}.${kind}`;
}

/** The artifact manifest (canonical bytes: the same artifact and subject always give the same digest). */
export function artifactManifest(artifact: Artifact, subject: Descriptor): Buffer {
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: artifact.artifactType,
    config: { mediaType: EMPTY_CONFIG.mediaType, digest: sha256Of(EMPTY_CONFIG.bytes), size: EMPTY_CONFIG.bytes.length },
    layers: [
      {
        mediaType: artifact.artifactType,
        digest: sha256Of(artifact.bytes),
        size: artifact.bytes.length,
        annotations: { 'org.opencontainers.image.title': artifact.title },
      },
    ],
    subject,
  };
  return Buffer.from(JSON.stringify(manifest));
}

/** Reading and writing the artifacts of images in one repository. */
export class ArtifactStore {
  constructor(private readonly session: RepositorySession) {}

  private get ref(): ImageRef {
    return this.session.ref;
  }

  private url(path: string): string {
    return `${this.session.baseUrl}/v2/${this.ref.repository}/${path}`;
  }

  /** The image manifest `digest` as a subject descriptor (its media type and size). */
  async subject(digest: string): Promise<Descriptor> {
    const res = await this.session.send({ method: 'GET', url: this.url(`manifests/${digest}`), headers: { Accept: MANIFEST_ACCEPT } });
    if (res.status === 404) {
      throw inputError('registry.not-found', `no such image: ${this.ref.registry}/${this.ref.repository}@${digest}`, {
        hint: 'push the image first, or check the digest',
      });
    }
    this.expect(res, `manifest ${digest}`);
    if (sha256Of(res.body) !== digest) throw externalError('registry.digest-mismatch', `registry ${this.ref.registry} returned other bytes for ${digest}`);
    const mediaType = res.headers.get('content-type')?.split(';')[0]?.trim() || OCI_MANIFEST;
    return { mediaType, digest, size: res.body.length };
  }

  /** Whether the registry serves the referrers API for this repository. */
  async supportsReferrers(subjectDigest: string): Promise<boolean> {
    const res = await this.session.send({ method: 'GET', url: this.url(`referrers/${subjectDigest}`), headers: { Accept: OCI_INDEX } });
    return res.status === 200 && (res.headers.get('content-type') ?? '').startsWith(OCI_INDEX);
  }

  /** Pushes each artifact (its blobs, then its manifest) with `subject` as its subject. */
  async attach(subject: Descriptor, artifacts: Artifact[]): Promise<AttachedArtifact[]> {
    const referrers = await this.supportsReferrers(subject.digest);
    await this.pushBlob(EMPTY_CONFIG.bytes);
    const attached: AttachedArtifact[] = [];
    for (const artifact of artifacts) {
      await this.pushBlob(artifact.bytes);
      const manifest = artifactManifest(artifact, subject);
      const digest = sha256Of(manifest);
      const tag = fallbackTag(subject.digest, artifact.kind);
      const res = await this.session.send({
        method: 'PUT',
        url: this.url(`manifests/${referrers ? digest : tag}`),
        headers: { 'Content-Type': OCI_MANIFEST },
        body: manifest,
      });
      this.expect(res, `the ${artifact.kind} manifest`);
      attached.push(referrers ? { kind: artifact.kind, digest, via: 'referrers' } : { kind: artifact.kind, digest, via: 'tag', tag });
    }
    return attached;
  }

  /**
   * The document of the artifact of `artifactType` (fallback tag `kind`) attached to `subjectDigest`, or null
   * when there is none. Through the referrers API when the registry has it, else by the fallback tag.
   */
  async find(subjectDigest: string, artifactType: string, kind: string): Promise<{ bytes: Buffer; manifestDigest: string; via: 'referrers' | 'tag' } | null> {
    let reference: string | undefined;
    let via: 'referrers' | 'tag' = 'tag';
    const listing = await this.session.send({ method: 'GET', url: this.url(`referrers/${subjectDigest}`), headers: { Accept: OCI_INDEX } });
    if (listing.status === 200 && (listing.headers.get('content-type') ?? '').startsWith(OCI_INDEX)) {
      const index = JSON.parse(listing.body.toString('utf8')) as { manifests?: { digest?: string; artifactType?: string }[] };
      reference = index.manifests?.find((m) => m.artifactType === artifactType)?.digest;
      via = 'referrers';
    }
    reference ??= fallbackTag(subjectDigest, kind);
    const res = await this.session.send({ method: 'GET', url: this.url(`manifests/${reference}`), headers: { Accept: OCI_MANIFEST } });
    if (res.status === 404) return null;
    this.expect(res, `the ${kind} manifest ${reference}`);
    const manifest = JSON.parse(res.body.toString('utf8')) as { artifactType?: string; subject?: { digest?: string }; layers?: { digest?: string }[] };
    if (manifest.artifactType !== artifactType || manifest.subject?.digest !== subjectDigest) return null;
    const layer = manifest.layers?.[0]?.digest;
    if (!layer) return null;
    const blob = await this.session.send({ method: 'GET', url: this.url(`blobs/${layer}`) });
    this.expect(blob, `blob ${layer}`);
    if (sha256Of(blob.body) !== layer) throw externalError('registry.digest-mismatch', `registry ${this.ref.registry} returned other bytes for blob ${layer}`);
    return { bytes: blob.body, manifestDigest: sha256Of(res.body), via };
  }

  /** Monolithic upload (POST for a session, PUT with the digest), unless the registry has the blob already. */
  private async pushBlob(bytes: Uint8Array): Promise<void> {
    const digest = sha256Of(bytes);
    const head = await this.session.send({ method: 'HEAD', url: this.url(`blobs/${digest}`) });
    if (head.status === 200) return;
    const start = await this.session.send({ method: 'POST', url: this.url('blobs/uploads/') });
    this.expect(start, 'a blob upload');
    const location = start.headers.get('location');
    if (!location) throw externalError('registry.protocol', `registry ${this.ref.registry} started an upload without a Location`);
    const url = new URL(location, this.session.baseUrl);
    url.searchParams.set('digest', digest);
    const put = await this.session.send({ method: 'PUT', url: url.href, headers: { 'Content-Type': 'application/octet-stream' }, body: bytes });
    this.expect(put, `blob ${digest}`);
  }

  private expect(res: HttpResponse, what: string): void {
    if (res.status >= 200 && res.status < 300) return;
    throw externalError('registry.protocol', `registry ${this.ref.registry} answered ${describeRegistryError(res)} for ${what} of ${describeRef(this.ref)}`, {
      hint: `check that you may push to ${this.ref.registry}/${this.ref.repository} (\`docker login ${this.ref.registry}\`)`,
    });
  }
}
