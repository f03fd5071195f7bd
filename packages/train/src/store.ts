import { FewstepError, validate } from '@fewstep/core';

/**
 * Where checkpoints live: a flat key -> bytes map. Each `put` must be atomic for its key (after a
 * crash a key holds either its old or its new bytes, never a mix); the checkpoint layer builds
 * multi-file atomicity on top (content-addressed tensor files, the manifest written last).
 */
export interface CheckpointStore {
  /** A short description for error messages ('memory', 'node:/path', 'indexeddb:db'). */
  readonly description: string;
  put(key: string, bytes: Uint8Array): Promise<void>;
  /** The bytes under `key`, or undefined when absent. */
  get(key: string): Promise<Uint8Array | undefined>;
  delete(key: string): Promise<void>;
  /** Every key currently stored. */
  keys(): Promise<string[]>;
}

const KEY = /^[A-Za-z0-9._-]+$/;

/** Keys are file names in every store: letters, digits, '.', '_' and '-' only. */
export function checkKey(where: string, key: unknown): string {
  const check = validate(where);
  if (typeof key !== 'string' || !KEY.test(key) || key.startsWith('.')) {
    check.fail('key', 'a name of letters, digits, ".", "_" or "-" not starting with "."', key);
  }
  return key as string;
}

/**
 * Checkpoints in memory (tests, or a browser session that offers them as downloads with
 * `download(key)`). Values are copied on put and get, so callers cannot alias stored bytes.
 */
export class MemoryStore implements CheckpointStore {
  readonly description = 'memory';
  private readonly files = new Map<string, Uint8Array>();

  async put(key: string, bytes: Uint8Array): Promise<void> {
    checkKey('MemoryStore.put', key);
    if (!(bytes instanceof Uint8Array)) validate('MemoryStore.put').fail('bytes', 'a Uint8Array', bytes);
    this.files.set(key, bytes.slice());
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    checkKey('MemoryStore.get', key);
    return this.files.get(key)?.slice();
  }

  async delete(key: string): Promise<void> {
    this.files.delete(key);
  }

  async keys(): Promise<string[]> {
    return [...this.files.keys()];
  }

  /** The stored bytes as a Blob (for a download link or an upload). */
  async blob(key: string): Promise<Blob> {
    const bytes = await this.get(key);
    if (!bytes) throw new FewstepError('MemoryStore.blob', `key must name a stored file, got ${JSON.stringify(key)}`, 'key');
    return new Blob([bytes as unknown as ArrayBuffer]);
  }

  /** Browser only: saves the stored bytes as a file through a temporary download link. */
  async download(key: string, fileName = key): Promise<void> {
    const doc = (globalThis as { document?: Document }).document;
    if (!doc) throw new FewstepError('MemoryStore.download', 'a browser document must exist to download a file, got none (use get() in Node)', 'document');
    const url = URL.createObjectURL(await this.blob(key));
    const a = doc.createElement('a');
    a.href = url;
    a.download = fileName;
    a.click();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }
}
