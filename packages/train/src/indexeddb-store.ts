import { FewstepError, validate } from '@fewstep/core';
import { checkKey, type CheckpointStore } from './store';

/**
 * Checkpoints in the browser's IndexedDB: one object store, key -> bytes. Each put is one
 * read-write transaction, which IndexedDB commits atomically, so a tab closed mid-save keeps the
 * previous value of every key.
 */
export class IndexedDbStore implements CheckpointStore {
  readonly description: string;
  private db?: Promise<IDBDatabase>;

  constructor(
    readonly dbName = 'fewstep-checkpoints',
    readonly storeName = 'files',
  ) {
    const check = validate('IndexedDbStore');
    check.check(typeof dbName === 'string' && dbName.length > 0, 'dbName', 'a non-empty string', dbName);
    check.check(typeof storeName === 'string' && storeName.length > 0, 'storeName', 'a non-empty string', storeName);
    this.description = `indexeddb:${dbName}/${storeName}`;
  }

  private open(): Promise<IDBDatabase> {
    const idb = (globalThis as { indexedDB?: IDBFactory }).indexedDB;
    if (!idb) return Promise.reject(new FewstepError('IndexedDbStore', 'indexedDB must exist (a browser), got none; use NodeStore in Node'));
    this.db ??= new Promise((resolve, reject) => {
      const req = idb.open(this.dbName, 1);
      req.onupgradeneeded = () => {
        if (!req.result.objectStoreNames.contains(this.storeName)) req.result.createObjectStore(this.storeName);
      };
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    return this.db;
  }

  private async run<T>(mode: IDBTransactionMode, body: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> {
    const db = await this.open();
    return new Promise<T>((resolve, reject) => {
      const tx = db.transaction(this.storeName, mode);
      const req = body(tx.objectStore(this.storeName));
      // Resolve on transaction completion, not request success: only then is the write durable.
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error ?? new FewstepError('IndexedDbStore', 'transaction aborted'));
    });
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    checkKey('IndexedDbStore.put', key);
    if (!(bytes instanceof Uint8Array)) validate('IndexedDbStore.put').fail('bytes', 'a Uint8Array', bytes);
    await this.run('readwrite', (s) => s.put(bytes.slice(), key));
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    checkKey('IndexedDbStore.get', key);
    const value = await this.run<unknown>('readonly', (s) => s.get(key));
    return value === undefined ? undefined : new Uint8Array(value as ArrayBuffer | Uint8Array);
  }

  async delete(key: string): Promise<void> {
    await this.run('readwrite', (s) => s.delete(key));
  }

  async keys(): Promise<string[]> {
    const keys = await this.run('readonly', (s) => s.getAllKeys());
    return keys.map(String);
  }
}
