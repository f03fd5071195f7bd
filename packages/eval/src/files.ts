import { FewstepError, validate } from '@fewstep/core';

interface NodeFs {
  mkdirSync(path: string, opts: { recursive: boolean }): void;
  writeFileSync(path: string, data: Uint8Array | string): void;
}

/**
 * Writes bytes (a PNG) or text (an SVG) to a file, creating its folder (Node only; in a browser,
 * hand the bytes to a Blob instead).
 */
export function writeOutput(path: string, content: Uint8Array | string): void {
  const check = validate('writeOutput');
  check.check(typeof path === 'string' && path.length > 0, 'path', 'a file path', path);
  check.check(content instanceof Uint8Array || typeof content === 'string', 'content', 'a Uint8Array or a string', content);
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const fs = proc?.getBuiltinModule?.('node:fs') as NodeFs | undefined;
  const pathMod = proc?.getBuiltinModule?.('node:path') as { dirname(p: string): string } | undefined;
  if (!fs || !pathMod) throw new FewstepError('writeOutput', 'needs Node >= 20.16 (node:fs); in a browser, save the bytes through a Blob');
  fs.mkdirSync(pathMod.dirname(path), { recursive: true });
  fs.writeFileSync(path, content);
}
