import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { defineConfig } from 'vite';

// The demo imports fewstep packages by name, resolved to their sources (no build needed).
const root = resolve(__dirname, '../../packages');
const alias = Object.fromEntries(readdirSync(root).map((d) => [d === 'fewstep' ? 'fewstep' : `@fewstep/${d}`, resolve(root, d, 'src', 'index.ts')]));

export default defineConfig({ root: __dirname, resolve: { alias }, server: { host: '127.0.0.1' }, logLevel: 'warn' });
