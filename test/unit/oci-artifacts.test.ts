/**
 * Attaching artifacts (SBOM, provenance) to an image in a registry, against an in-memory registry behind an
 * injected fetch: with the referrers API (pushed by digest, found through the API) and without it (the
 * `sha256-<hex>.<kind>` tag fallback); plus the pure parts (manifest bytes, fallback tag, reference test,
 * provenance comparison).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HttpOciRegistry } from '../../src/oci/oci-registry.js';
import { ArtifactStore, artifactManifest, fallbackTag, sha256Of } from '../../src/oci/artifacts.js';
import { parseImageRef } from '../../src/core/image-ref.js';
import { attachToPushed, provenanceProblems, registryDigestRef, verifyAttachments } from '../../src/app/attachments.js';
import { silentLogger } from '../../src/core/ports.js';
import { sbomLock } from '../fixtures/lock/sbom-lock.js';

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';

/** A registry holding one repository in memory; `referrers` says whether it serves the referrers API. */
function fakeRegistry(referrers: boolean, refusePut = false) {
  const blobs = new Map<string, Buffer>();
  const manifests = new Map<string, { body: Buffer; type: string }>();
  const uploads = new Set<string>();
  const image = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: {}, layers: [] }));
  const imageDigest = sha256Of(image);
  manifests.set(imageDigest, { body: image, type: OCI_MANIFEST });
  const fetchImpl = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const url = new URL(String(input));
    const method = init?.method ?? 'GET';
    const path = url.pathname.replace(/^\/v2\/app\//, '');
    const body = init?.body ? Buffer.from(init.body as Uint8Array) : Buffer.alloc(0);
    const send = (status: number, bytes: Buffer | null = null, headers: Record<string, string> = {}) =>
      new Response(method === 'HEAD' ? null : bytes, { status, headers });
    if (path.startsWith('referrers/')) {
      if (!referrers) return send(404, Buffer.from('404 page not found'));
      const subject = path.slice('referrers/'.length);
      const list = [...manifests.entries()]
        .map(([digest, m]) => ({ digest, m: JSON.parse(m.body.toString()) as { artifactType?: string; subject?: { digest: string } }, size: m.body.length }))
        .filter((e) => e.m.subject?.digest === subject && e.digest.startsWith('sha256:'))
        .map((e) => ({ mediaType: OCI_MANIFEST, digest: e.digest, size: e.size, artifactType: e.m.artifactType }));
      return send(200, Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: list })), {
        'Content-Type': 'application/vnd.oci.image.index.v1+json',
      });
    }
    if (path.startsWith('blobs/uploads/') && method === 'POST') {
      const id = `u${uploads.size}`;
      uploads.add(id);
      return send(202, null, { Location: `/v2/app/blobs/uploads/${id}?state=x` });
    }
    if (path.startsWith('blobs/uploads/') && method === 'PUT') {
      const digest = url.searchParams.get('digest')!;
      assert.equal(sha256Of(body), digest);
      blobs.set(digest, body);
      return send(201);
    }
    if (path.startsWith('blobs/')) {
      const blob = blobs.get(path.slice('blobs/'.length));
      return blob ? send(200, blob) : send(404);
    }
    if (path.startsWith('manifests/')) {
      const reference = path.slice('manifests/'.length);
      if (method === 'PUT') {
        if (refusePut) return send(405, Buffer.from('{"errors":[{"code":"UNSUPPORTED","message":"The operation is unsupported."}]}'));
        const m = JSON.parse(body.toString()) as { config: { digest: string }; layers: { digest: string }[] };
        for (const d of [m.config.digest, ...m.layers.map((l) => l.digest)]) assert.ok(blobs.has(d), `blob ${d} pushed before the manifest`);
        manifests.set(reference, { body, type: String((init?.headers as Record<string, string>)['Content-Type']) });
        manifests.set(sha256Of(body), { body, type: OCI_MANIFEST });
        return send(201, null, { 'Docker-Content-Digest': sha256Of(body) });
      }
      const m = manifests.get(reference);
      return m
        ? send(200, m.body, { 'Content-Type': m.type, 'Docker-Content-Digest': sha256Of(m.body) })
        : send(404, Buffer.from('{"errors":[{"code":"MANIFEST_UNKNOWN"}]}'));
    }
    return send(404);
  };
  const registry = new HttpOciRegistry({ fetch: fetchImpl as typeof fetch, retries: 0 });
  const open = async (ref: ReturnType<typeof parseImageRef>, write: boolean) => new ArtifactStore(registry.session(ref, write ? 'pull,push' : 'pull'));
  return { open, imageDigest, manifests };
}

const lock = sbomLock();
const provenanceFor = (digest: string) =>
  JSON.stringify({
    subject: [{ name: 'x', digest: { sha256: digest.slice(7) } }],
    predicate: { buildDefinition: { externalParameters: { lockFingerprint: lock.fingerprint } } },
  });

for (const referrers of [true, false]) {
  test(`attach and verify ${referrers ? 'through the referrers API' : 'with the sha256-<hex>.<kind> tag fallback'}`, async () => {
    const reg = fakeRegistry(referrers);
    const ref = parseImageRef(`127.0.0.1:5000/app@${reg.imageDigest}`);
    const before = await verifyAttachments(ref, lock, 'SBOM', reg.open);
    assert.equal(before.ok, false);
    assert.deepEqual(before.details, ['no SBOM (application/vnd.cyclonedx+json) is attached', 'no provenance (application/vnd.in-toto+json) is attached']);

    const attached = await attachToPushed(
      [{ tag: '127.0.0.1:5000/app:v1', digest: reg.imageDigest }],
      { sbom: 'SBOM', provenance: provenanceFor(reg.imageDigest) },
      reg.open,
      silentLogger,
    );
    assert.deepEqual(
      attached.map((a) => [a.kind, a.via, a.tag]),
      [
        ['sbom', referrers ? 'referrers' : 'tag', referrers ? undefined : fallbackTag(reg.imageDigest, 'sbom')],
        ['att', referrers ? 'referrers' : 'tag', referrers ? undefined : fallbackTag(reg.imageDigest, 'att')],
      ],
    );
    assert.equal(reg.manifests.has(fallbackTag(reg.imageDigest, 'sbom')), !referrers, 'a fallback tag only without the referrers API');
    const after = await verifyAttachments(ref, lock, 'SBOM', reg.open);
    assert.equal(after.ok, true, after.summary);
    const other = await verifyAttachments(ref, lock, 'ANOTHER SBOM', reg.open);
    assert.equal(other.ok, false);
    assert.match(other.summary, /the attached SBOM \(sha256:[0-9a-f]{64}\) is not the lock's SBOM/);
  });
}

test('a subject that is not in the registry: exit 2 naming it', async () => {
  const reg = fakeRegistry(false);
  const missing = `sha256:${'9'.repeat(64)}`;
  await assert.rejects(
    attachToPushed([{ tag: '127.0.0.1:5000/app:v1', digest: missing }], { sbom: 'S', provenance: null }, reg.open, silentLogger),
    (e: { exitCode: number; message: string }) => e.exitCode === 2 && e.message.includes(`no such image: 127.0.0.1:5000/app@${missing}`),
  );
});

test('a registry that refuses the artifact manifest: exit 3 naming the registry and what it said', async () => {
  const reg = fakeRegistry(false, true);
  await assert.rejects(
    attachToPushed([{ tag: '127.0.0.1:5000/app:v1', digest: reg.imageDigest }], { sbom: 'S', provenance: null }, reg.open, silentLogger),
    (e: { exitCode: number; message: string; hint?: string }) =>
      e.exitCode === 3 &&
      /registry 127\.0\.0\.1:5000 answered UNSUPPORTED: The operation is unsupported\. for the sbom manifest/.test(e.message) &&
      /docker login/.test(e.hint ?? ''),
  );
});

test('artifactManifest: OCI manifest with artifactType, the empty config, one titled layer and the subject; same input, same bytes', () => {
  const subject = { mediaType: OCI_MANIFEST, digest: `sha256:${'1'.repeat(64)}`, size: 10 };
  const artifact = { kind: 'sbom', artifactType: 'application/vnd.cyclonedx+json', title: 'sbom.cdx.json', bytes: Buffer.from('{}\n') };
  const bytes = artifactManifest(artifact, subject);
  assert.deepEqual(bytes, artifactManifest(artifact, subject));
  const m = JSON.parse(bytes.toString());
  assert.equal(m.artifactType, 'application/vnd.cyclonedx+json');
  assert.deepEqual(m.config, {
    mediaType: 'application/vnd.oci.empty.v1+json',
    digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
    size: 2,
  });
  assert.deepEqual(m.layers, [
    {
      mediaType: 'application/vnd.cyclonedx+json',
      digest: sha256Of(Buffer.from('{}\n')),
      size: 3,
      annotations: { 'org.opencontainers.image.title': 'sbom.cdx.json' },
    },
  ]);
  assert.deepEqual(m.subject, subject);
  assert.equal(fallbackTag(subject.digest, 'att'), `sha256-${'1'.repeat(64)}.att`);
});

test('registryDigestRef: only references with a registry host and a digest', () => {
  const d = `sha256:${'2'.repeat(64)}`;
  assert.equal(registryDigestRef(`127.0.0.1:5000/a/b@${d}`)?.repository, 'a/b');
  assert.equal(registryDigestRef(`ghcr.io/o/r@${d}`)?.registry, 'ghcr.io');
  assert.equal(registryDigestRef(`localhost/r@${d}`)?.registry, 'localhost');
  assert.equal(registryDigestRef('127.0.0.1:5000/a:v1'), null);
  assert.equal(registryDigestRef(`envseal/x@${d}`), null);
  assert.equal(registryDigestRef(d), null);
});

test('provenanceProblems: another lock, another subject, not JSON', () => {
  const d = `sha256:${'3'.repeat(64)}`;
  assert.deepEqual(provenanceProblems(Buffer.from(provenanceFor(d)), lock, d), []);
  assert.deepEqual(provenanceProblems(Buffer.from(provenanceFor(d)), lock, `sha256:${'4'.repeat(64)}`), [
    `the attached provenance does not name sha256:${'4'.repeat(64)} as a subject`,
  ]);
  assert.deepEqual(provenanceProblems(Buffer.from(provenanceFor(d)), { ...lock, fingerprint: 'sha256:other' }, d), [
    `the attached provenance is for lock fingerprint ${lock.fingerprint}, the lock has sha256:other`,
  ]);
  assert.deepEqual(provenanceProblems(Buffer.from('nope'), lock, d), ['the attached provenance is not JSON']);
});
