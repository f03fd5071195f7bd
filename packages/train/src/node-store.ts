import { FewstepError, validate } from '@fewstep/core';
import { checkKey, type CheckpointStore } from './store';

type FileHandle = { write(b: Uint8Array): Promise<unknown>; sync(): Promise<void>; close(): Promise<void> };
interface FsPromises {
  mkdir(p: string, o: { recursive: boolean }): Promise<unknown>;
  open(p: string, flags: string): Promise<FileHandle>;
  rename(a: string, b: string): Promise<void>;
  readFile(p: string): Promise<Uint8Array>;
  unlink(p: string): Promise<void>;
  readdir(p: string): Promise<string[]>;
}

/** node:fs/promises, loaded lazily by a name bundlers leave alone (this file also ships to browsers). */
async function nodeFs(): Promise<FsPromises> {
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const fromBuiltin = proc?.getBuiltinModule?.('node:fs/promises') as FsPromises | undefined;
  if (fromBuiltin) return fromBuiltin;
  const name = 'node:fs/promises';
  try {
    return (await import(/* @vite-ignore */ name)) as FsPromises;
  } catch {
    throw new FewstepError('NodeStore', 'needs Node (node:fs); in a browser use IndexedDbStore or MemoryStore');
  }
}

let tempCounter = 0;

/**
 * Checkpoints as files in one folder (Node). Every put is atomic and durable: the bytes go to a
 * temporary file in the same folder, are fsynced, renamed over the key (rename is atomic on POSIX
 * file systems), and the folder is fsynced so the rename itself survives a power loss.
 * Temporary files start with '.', so `keys()` never lists them; `removeTemporary()` clears the
 * ones a crash left behind.
 */
export class NodeStore implements CheckpointStore {
  readonly description: string;

  constructor(readonly dir: string) {
    validate('NodeStore').check(typeof dir === 'string' && dir.length > 0, 'dir', 'a folder path', dir);
    this.description = `node:${dir}`;
  }

  private path(key: string): string {
    return `${this.dir}/${key}`;
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    checkKey('NodeStore.put', key);
    if (!(bytes instanceof Uint8Array)) validate('NodeStore.put').fail('bytes', 'a Uint8Array', bytes);
    const fs = await nodeFs();
    await fs.mkdir(this.dir, { recursive: true });
    const pid = (globalThis as { process?: { pid?: number } }).process?.pid ?? 0;
    const temp = this.path(`.tmp-${pid}-${tempCounter++}-${key}`);
    const fh = await fs.open(temp, 'w');
    try {
      await fh.write(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.rename(temp, this.path(key));
    await this.syncDir(fs);
  }

  private async syncDir(fs: FsPromises): Promise<void> {
    const dh = await fs.open(this.dir, 'r');
    try {
      await dh.sync();
    } catch {
      // Some file systems (and Windows) refuse fsync on a folder; the rename is still atomic there.
    } finally {
      await dh.close();
    }
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    checkKey('NodeStore.get', key);
    const fs = await nodeFs();
    try {
      const buf = await fs.readFile(this.path(key));
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async delete(key: string): Promise<void> {
    checkKey('NodeStore.delete', key);
    const fs = await nodeFs();
    try {
      await fs.unlink(this.path(key));
    } catch (e) {
      if ((e as { code?: string }).code !== 'ENOENT') throw e;
    }
  }

  async keys(): Promise<string[]> {
    const fs = await nodeFs();
    try {
      return (await fs.readdir(this.dir)).filter((n) => !n.startsWith('.'));
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') return [];
      throw e;
    }
  }

  /** Deletes temporary files left by interrupted puts (of any process); returns how many. */
  async removeTemporary(): Promise<number> {
    const fs = await nodeFs();
    let names: string[];
    try {
      names = await fs.readdir(this.dir);
    } catch {
      return 0;
    }
    const temps = names.filter((n) => n.startsWith('.tmp-'));
    for (const n of temps) await fs.unlink(this.path(n)).catch(() => undefined);
    return temps.length;
  }
}
