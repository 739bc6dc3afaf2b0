/** Identifiers of generated documents, derived from their content so that they are reproducible. */
import { sha256Hex } from '../core/canonical-json.js';

/**
 * A UUID from a digest and the document kind (RFC 9562 version 8, "custom": the first 122 bits of a SHA-256):
 * the same content gives the same serial number, different content or kind a different one.
 */
export function serialUuid(digestHex: string, kind: string): string {
  const h = sha256Hex(`envseal:${kind}:${digestHex}`).slice(0, 32).split('');
  h[12] = '8';
  h[16] = ((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16);
  const x = h.join('');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}
