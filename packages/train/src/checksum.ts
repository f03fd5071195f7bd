import { FewstepError } from '@fewstep/core';

/**
 * SHA-256 of `bytes` as lowercase hex, through Web Crypto (`globalThis.crypto.subtle`), which both
 * browsers (secure contexts) and Node >= 20 provide, so one code path serves both.
 */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const subtle = (globalThis as { crypto?: Crypto }).crypto?.subtle;
  if (!subtle) {
    throw new FewstepError('sha256Hex', 'Web Crypto (crypto.subtle) must be available (a browser secure context or Node >= 20), got none', 'crypto');
  }
  const digest = await subtle.digest('SHA-256', bytes as unknown as ArrayBuffer);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** The little-endian float32 bytes of `data` (what a safetensors F32 tensor stores). */
export function float32Bytes(data: Float32Array): Uint8Array {
  const out = new Uint8Array(data.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i], true);
  return out;
}
