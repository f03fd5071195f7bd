import { existsSync, readFileSync, writeFileSync } from 'node:fs';

/**
 * Replaces one benchmark's marked section of docs/benchmarks.md (`<!-- bench:<id>:start -->` ...
 * `end`), or appends it: every bench owns its own section and leaves the others intact.
 */
export function writeBenchmarkSection(id: string, title: string, body: string): void {
  const file = new URL('../docs/benchmarks.md', import.meta.url);
  const start = `<!-- bench:${id}:start -->`;
  const end = `<!-- bench:${id}:end -->`;
  const section = `${start}\n## ${title}\n\n${body}\n${end}`;
  const old = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const next = old.includes(start)
    ? old.slice(0, old.indexOf(start)) + section + old.slice(old.indexOf(end) + end.length)
    : `${old.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, next);
  console.log('\nwrote docs/benchmarks.md');
}

/** A logger that prints each line and keeps it for the bench's section of docs/benchmarks.md. */
export function sectionLog(): { log: (s?: string) => void; lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    log: (s = '') => {
      console.log(s);
      lines.push(s);
    },
  };
}
