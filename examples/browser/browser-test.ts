// Playwright test of the browser demo in Debian's headless Chromium (playwright-core, no browser
// download): start Vite, open the page, click "Sample", check the plot's pixels and the MMD, click
// "Fine-tune", check that steps, loss and the plot changed. Screenshots go to examples/browser/out/.
// Run: npx tsx examples/browser/browser-test.ts   (needs /usr/bin/chromium: apt-get install -y chromium)
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Page } from 'playwright-core';
import { createServer } from 'vite';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, 'out');
mkdirSync(out, { recursive: true });

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`browser test failed: ${what}`);
  console.log(`ok - ${what}`);
}

async function canvasPixels(page: Page): Promise<number[]> {
  return page.evaluate(() => {
    const c = document.getElementById('plot') as HTMLCanvasElement;
    return Array.from(c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data);
  });
}

async function main(): Promise<void> {
  const server = await createServer({ configFile: join(here, 'vite.config.ts'), server: { port: 0, host: '127.0.0.1' } });
  await server.listen();
  const url = server.resolvedUrls!.local[0];
  const context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'fewstep-chromium-')), {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--disable-quic', '--disable-dev-shm-usage', '--no-default-browser-check', '--disable-extensions', '--enable-unsafe-webgpu',
      '--enable-unsafe-swiftshader', '--use-angle=swiftshader'],
  });
  try {
    const page = await context.newPage();
    page.on('console', (m) => m.type() === 'error' && console.log(`[page] ${m.text()}`));
    await page.goto(url);
    await page.waitForFunction(() => ['ready', 'error'].some((s) => document.getElementById('status')!.textContent!.startsWith(s)), null, { timeout: 120_000 });
    const backend = await page.textContent('#backend');
    check((await page.textContent('#status')) === 'ready', `page loaded the model (backend ${backend})`);
    check(backend === 'webgpu' || backend === 'webgl', 'a GPU backend (webgpu or webgl) is active');
    const blank = await canvasPixels(page);
    await page.click('#sample');
    await page.waitForFunction(() => document.getElementById('status')!.textContent === 'sampled', null, { timeout: 120_000 });
    await page.screenshot({ path: join(out, 'sampled.png') });
    const sampled = await canvasPixels(page);
    const changed = (a: number[], b: number[]) => a.reduce((n, v, i) => n + (v !== b[i] ? 1 : 0), 0);
    check(changed(blank, sampled) > 1000, `one-step samples drawn (${changed(blank, sampled)} channel values changed)`);
    const mmd = Number(await page.textContent('#mmd'));
    check(Number.isFinite(mmd) && mmd < 0.5, `MMD shown and finite (${mmd})`);
    await page.click('#tune');
    await page.waitForFunction(() => document.getElementById('status')!.textContent === 'tuned', null, { timeout: 300_000 });
    await page.screenshot({ path: join(out, 'tuned.png') });
    const steps = Number(await page.textContent('#steps'));
    const loss = Number(await page.textContent('#loss'));
    check(steps === 20 && Number.isFinite(loss), `20 ECT steps ran live (last loss ${loss})`);
    check(changed(sampled, await canvasPixels(page)) > 100, 'the plot was redrawn during tuning');
  } finally {
    await context.close();
    await server.close();
  }
}

main().then(
  () => console.log('browser test passed'),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
