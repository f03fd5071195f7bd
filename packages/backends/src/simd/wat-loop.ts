/**
 * WAT text of a counted loop: while local `counter` < local `end` (unsigned), `body`, then
 * `counter` += `step` (a constant, or a local named by a string). Labels $<label> (the loop) and $<label>Done (its exit) stay free for the
 * body to branch to.
 */
export function whileBelow(label: string, counter: string, end: string, step: number | string, body: string): string {
  const by = typeof step === 'number' ? `i32.const ${step}` : `local.get ${step}`;
  return `
    block $${label}Done loop $${label}
      local.get ${counter} local.get ${end} i32.ge_u br_if $${label}Done
      ${body}
      local.get ${counter} ${by} i32.add local.set ${counter}
      br $${label}
    end end`;
}
