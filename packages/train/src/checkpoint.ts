import { FewstepError, validate, type NoiseSource, type NoiseState } from '@fewstep/core';
import { readSafetensors, writeSafetensors, type HostTensor } from '@fewstep/nn';
import { float32Bytes, sha256Hex } from './checksum';
import { FORMAT, VERSION, manifestKey, parseManifest, tensorsKey, type CheckpointManifest } from './manifest';
import { checkKey, type CheckpointStore } from './store';
import { restoreInto } from './restore';
import { hostOf, lossStates, moduleVariables, noiseStates, optimizerTensors, type RestoreTargets, type TrainingState } from './state';

export interface SaveOptions {
  /** Checkpoint name (default `step-<9-digit step>`); saving under an existing name replaces it atomically. */
  name?: string;
  /** Keep only the newest `keep` checkpoints (by step) after this save (default: keep all). */
  keep?: number;
}

function checkStore(where: string, store: unknown): CheckpointStore {
  const s = store as CheckpointStore;
  if (!s || typeof s.put !== 'function' || typeof s.get !== 'function' || typeof s.keys !== 'function') {
    validate(where).fail('store', 'a CheckpointStore (NodeStore, IndexedDbStore, MemoryStore)', store);
  }
  return s;
}

function checkJson(where: string, metadata: unknown): Record<string, unknown> {
  if (metadata === undefined) return {};
  const check = validate(where);
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) check.fail('metadata', 'a plain object', metadata);
  try {
    return JSON.parse(JSON.stringify(metadata));
  } catch (e) {
    return check.fail('metadata', `JSON-serialisable data (${(e as Error).message})`, metadata);
  }
}

/** Every tensor of the state, keyed as in the file, plus the manifest fields that describe them (read with `await data()`: safe on webgpu). */
async function collect(state: TrainingState) {
  const where = 'saveCheckpoint';
  const vars = moduleVariables(where, state.modules);
  const tensors: Record<string, HostTensor> = {};
  const modules: Record<string, string[]> = {};
  for (const v of vars) {
    const role = v.name.slice(0, v.name.indexOf('.'));
    tensors[`module/${v.name}`] = await hostOf(v);
    (modules[role] ??= []).push(v.name.slice(role.length + 1));
  }
  for (const role of Object.keys(state.modules ?? {})) modules[role] ??= [];
  const optimizer = state.optimizer ? await optimizerTensors(state.optimizer, vars, tensors) : undefined;
  const emas: CheckpointManifest['emas'] = {};
  for (const [role, ema] of Object.entries(state.emas ?? {})) {
    if (!ema || !Array.isArray(ema.shadow)) validate(where).fail(`emas.${role}`, 'an ExponentialMovingAverage', ema);
    for (const [i, v] of ema.shadow.entries()) tensors[`ema/${role}/${i}`] = { shape: [...v.shape], data: Float32Array.from(await v.data()) };
    emas[role] = { updates: ema.updates, count: ema.shadow.length };
  }
  return { tensors, modules, optimizer, emas };
}

/**
 * Saves everything a run needs (networks, EMA and target networks, optimizer moments and step,
 * loss schedule state, noise-source state, user metadata) as one safetensors file plus a JSON
 * manifest with SHA-256 checksums. Crash-safe on any store whose put is atomic: the tensors file
 * is content-addressed, the manifest (the commit point) is written after it, and files of the
 * replaced checkpoint are removed only after the new manifest is in place.
 */
export async function saveCheckpoint(store: CheckpointStore, state: TrainingState, opts: SaveOptions = {}): Promise<CheckpointManifest> {
  const where = 'saveCheckpoint';
  const check = validate(where);
  checkStore(where, store);
  if (!state || typeof state !== 'object') check.fail('state', 'a TrainingState object', state);
  const step = check.integer('state.step', state.step, { min: 0 });
  const name = checkKey(where, opts.name ?? `step-${String(step).padStart(9, '0')}`);
  const keep = opts.keep === undefined ? undefined : check.integer('keep', opts.keep, { min: 1 });
  const metadata = checkJson(where, state.metadata);
  const { tensors, modules, optimizer, emas } = await collect(state);
  const noise = noiseStates(state.noise);
  const losses = lossStates(step, state.losses);
  const file = writeSafetensors(tensors, { metadata: { format: FORMAT, name, step: String(step) } });
  const fileSha256 = await sha256Hex(file);
  const entries: CheckpointManifest['tensors'] = {};
  for (const key of Object.keys(tensors).sort()) {
    entries[key] = { shape: tensors[key].shape, sha256: await sha256Hex(float32Bytes(tensors[key].data)) };
  }
  const manifest: CheckpointManifest = {
    format: FORMAT, version: VERSION, name, step, createdAt: new Date().toISOString(),
    tensorsFile: tensorsKey(name, fileSha256), fileSha256, fileBytes: file.byteLength,
    tensors: entries, modules, optimizer, emas, noise, losses, metadata,
  };
  await store.put(manifest.tensorsFile, file);
  await store.put(manifestKey(name), new TextEncoder().encode(JSON.stringify(manifest, null, 1)));
  await collectGarbage(store, keep);
  return manifest;
}

/** Deletes checkpoints beyond `keep` (oldest first, manifest before data) and unreferenced tensor files. */
async function collectGarbage(store: CheckpointStore, keep?: number): Promise<void> {
  const manifests = await listCheckpoints(store);
  if (keep !== undefined) {
    for (const m of manifests.slice(0, Math.max(0, manifests.length - keep))) await store.delete(manifestKey(m.name));
  }
  const live = new Set((keep === undefined ? manifests : manifests.slice(-keep)).map((m) => m.tensorsFile));
  for (const key of await store.keys()) {
    if (key.endsWith('.safetensors') && !live.has(key)) await store.delete(key);
  }
}

/** The manifests of every complete checkpoint in the store, oldest (lowest step) first. */
export async function listCheckpoints(store: CheckpointStore): Promise<CheckpointManifest[]> {
  checkStore('listCheckpoints', store);
  const out: CheckpointManifest[] = [];
  for (const key of await store.keys()) {
    if (!key.endsWith('.ckpt.json')) continue;
    const bytes = await store.get(key);
    if (bytes) out.push(parseManifest('listCheckpoints', key, bytes));
  }
  return out.sort((a, b) => a.step - b.step || a.createdAt.localeCompare(b.createdAt));
}

/** A checkpoint read back and verified against its manifest (file and per-tensor checksums). */
export interface VerifiedCheckpoint {
  manifest: CheckpointManifest;
  tensors: Record<string, HostTensor>;
}

async function resolveName(where: string, store: CheckpointStore, name?: string): Promise<string> {
  if (name !== undefined) return checkKey(where, name);
  const all = await listCheckpoints(store);
  if (all.length === 0) throw new FewstepError(where, `store must hold a checkpoint, got none in ${store.description}`, 'store');
  return all[all.length - 1].name;
}

/**
 * Reads a checkpoint (default: the one with the highest step) and verifies it: the file's size and
 * SHA-256, then every tensor's name, shape and SHA-256 against the manifest. Every mismatch is
 * listed in one FewstepError.
 */
export async function verifyCheckpoint(store: CheckpointStore, name?: string): Promise<VerifiedCheckpoint> {
  const where = 'verifyCheckpoint';
  checkStore(where, store);
  const ckpt = await resolveName(where, store, name);
  const mBytes = await store.get(manifestKey(ckpt));
  if (!mBytes) throw new FewstepError(where, `name must be a checkpoint in ${store.description}, got ${JSON.stringify(ckpt)} (no ${manifestKey(ckpt)})`, 'name');
  const manifest = parseManifest(where, manifestKey(ckpt), mBytes);
  const fail = (msg: string): never => {
    throw new FewstepError(where, `checkpoint ${JSON.stringify(ckpt)} (step ${manifest.step}) is corrupt: ${msg}`, 'checkpoint');
  };
  const file = await store.get(manifest.tensorsFile);
  if (!file) return fail(`its tensors file ${manifest.tensorsFile} is missing`);
  if (file.byteLength !== manifest.fileBytes) fail(`${manifest.tensorsFile} has ${file.byteLength} bytes, the manifest says ${manifest.fileBytes}`);
  const sha = await sha256Hex(file);
  if (sha !== manifest.fileSha256) fail(`${manifest.tensorsFile} has SHA-256 ${sha}, the manifest says ${manifest.fileSha256}`);
  let tensors: Record<string, HostTensor>;
  try {
    tensors = readSafetensors(file).tensors;
  } catch (e) {
    return fail((e as Error).message);
  }
  const problems: string[] = [];
  for (const [key, want] of Object.entries(manifest.tensors)) {
    const t = tensors[key];
    if (!t) problems.push(`tensor ${key} is missing from the file`);
    else if (t.shape.join() !== want.shape.join()) problems.push(`tensor ${key} has shape [${t.shape}], the manifest says [${want.shape}]`);
    else if ((await sha256Hex(float32Bytes(t.data))) !== want.sha256) problems.push(`tensor ${key} fails its SHA-256 check`);
  }
  for (const key of Object.keys(tensors)) if (!manifest.tensors[key]) problems.push(`tensor ${key} is in the file but not in the manifest`);
  if (problems.length) fail(problems.join('; '));
  return { manifest, tensors };
}

export interface LoadedCheckpoint {
  manifest: CheckpointManifest;
  step: number;
  /** Noise sources rebuilt from their saved state (replay sources: state only, in `noiseStates`). */
  noise: Record<string, NoiseSource>;
  noiseStates: Record<string, NoiseState>;
  metadata: Record<string, unknown>;
}

export interface LoadOptions {
  /** The checkpoint to load (default: the one with the highest step). */
  name?: string;
}

/**
 * Loads a checkpoint into the given networks, EMAs, optimizer and losses, after verifying the
 * file and every tensor's checksum and checking every name and shape against the targets (all
 * mismatches in one FewstepError; nothing is assigned unless everything matches). Load into a
 * freshly built optimizer. Returns the step, rebuilt noise sources and the metadata.
 */
export async function loadCheckpoint(store: CheckpointStore, targets: RestoreTargets = {}, opts: LoadOptions = {}): Promise<LoadedCheckpoint> {
  const where = 'loadCheckpoint';
  if (!targets || typeof targets !== 'object') validate(where).fail('targets', 'an object of modules, optimizer, emas and losses', targets);
  const { manifest, tensors } = await verifyCheckpoint(store, opts.name);
  const { noise, noiseStates } = await restoreInto(where, manifest, tensors, targets);
  return { manifest, step: manifest.step, noise, noiseStates, metadata: manifest.metadata };
}

export type { CheckpointManifest };
