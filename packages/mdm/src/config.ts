import { validate } from '@fewstep/core';

/**
 * A UNet configuration (apple/ml-mdm `UNetConfig` + `ResNetConfig`), camelCase. List fields may
 * be given as one number (repeated for every level), as in the reference.
 */
export interface UNetConfig {
  /** Channels per level, highest resolution first (c_0 .. c_{L-1}). */
  resolutionChannels: number[];
  /** ResNets per level (default 2). */
  numResnetsPerResolution?: number | number[];
  /** Levels that get attention (default [2, 3], the reference's default; [] for none). */
  attentionLevels?: number[];
  /** Attention layers per ResNet at those levels (default 1). */
  numAttentionLayers?: number | number[];
  /** Width of the time embedding (default 4 c_0). */
  temporalDim?: number | null;
  /** Drop the middle blocks (a NestedUNet replaces them with its inner network; default false for a UNet). */
  skipMidBlocks?: boolean;
  /** GroupNorm groups of the ResNets and the output norm (default 32; attention always uses 32). */
  numGroupsNorm?: number;
  dropout?: number;
  /** Feed-forward after every attention layer (default false). */
  useAttentionFfn?: boolean;
  /** Attention heads (default 8). */
  numHeads?: number;
  /** GroupNorm groups inside attention and its FFN (default 32, hard-coded in the reference). */
  attentionGroups?: number;
}

/** A NestedUNet: an outer UNet whose middle is `inner` (a UNet, or another NestedUNet for 3+ resolutions). */
export interface NestedUNetConfig extends UNetConfig {
  inner: UNetConfig | NestedUNetConfig;
  /** Do not divide the high-resolution input by its per-sample std (default false). */
  skipNormalization?: boolean;
}

export type AnyUNetConfig = UNetConfig | NestedUNetConfig;

export function isNestedConfig(c: AnyUNetConfig): c is NestedUNetConfig {
  return (c as NestedUNetConfig).inner !== undefined && (c as NestedUNetConfig).inner !== null;
}

/** A config with every default filled in and lists expanded to one entry per level. */
export interface ResolvedUNetConfig {
  resolutionChannels: number[];
  numResnetsPerResolution: number[];
  attentionLevels: number[];
  numAttentionLayers: number[];
  temporalDim: number;
  skipMidBlocks: boolean;
  numGroupsNorm: number;
  dropout: number;
  useAttentionFfn: boolean;
  numHeads: number;
  attentionGroups: number;
}

function perLevel(where: string, name: string, value: number | number[] | undefined, fallback: number, levels: number): number[] {
  const check = validate(where);
  const list = value === undefined ? [fallback] : Array.isArray(value) ? value : [value];
  const full = list.length === 1 ? Array(levels).fill(list[0]) : list;
  if (full.length !== levels) check.fail(name, `one number or ${levels} numbers (one per level)`, value);
  full.forEach((v, i) => check.integer(`${name}[${i}]`, v, { min: 0 }));
  return full;
}

export function resolveConfig(where: string, c: AnyUNetConfig, nested: boolean): ResolvedUNetConfig {
  const check = validate(where);
  if (!c || typeof c !== 'object') check.fail('config', 'a UNet configuration object', c);
  const channels = check.numbers('config.resolutionChannels', c.resolutionChannels, { minLength: 1, min: 1 });
  channels.forEach((v, i) => check.integer(`config.resolutionChannels[${i}]`, v, { min: 1 }));
  const L = channels.length;
  const resnets = perLevel(where, 'config.numResnetsPerResolution', c.numResnetsPerResolution, 2, L);
  resnets.forEach((n, i) => check.integer(`config.numResnetsPerResolution[${i}]`, n, { min: 1 }));
  const attentionLevels = (c.attentionLevels ?? [2, 3]).map((l, i) => check.integer(`config.attentionLevels[${i}]`, l, { min: 0 }));
  const temporalDim = c.temporalDim ?? 4 * channels[0];
  check.integer('config.temporalDim', temporalDim, { min: 8 });
  if (temporalDim % 8 !== 0) check.fail('config.temporalDim', 'a multiple of 8', temporalDim);
  return {
    resolutionChannels: channels,
    numResnetsPerResolution: resnets,
    attentionLevels,
    numAttentionLayers: perLevel(where, 'config.numAttentionLayers', c.numAttentionLayers, 1, L),
    temporalDim,
    skipMidBlocks: c.skipMidBlocks ?? nested,
    numGroupsNorm: check.integer('config.numGroupsNorm', c.numGroupsNorm ?? 32, { min: 1 }),
    dropout: check.finite('config.dropout', c.dropout ?? 0, { min: 0, lt: 1 }),
    useAttentionFfn: c.useAttentionFfn ?? false,
    numHeads: check.integer('config.numHeads', c.numHeads ?? 8, { min: 1 }),
    attentionGroups: check.integer('config.attentionGroups', c.attentionGroups ?? 32, { min: 1 }),
  };
}

/**
 * Converts a reference config (`UNetConfig` / `NestedUNetConfig` as JSON with snake_case keys,
 * e.g. from a YAML file or a golden's `params.config`) to ours. Text conditioning, micro
 * conditioning and the temporal mode are not supported and are rejected when enabled.
 */
export function configFromReference(ref: Record<string, any>): AnyUNetConfig {
  const check = validate('configFromReference');
  if (!ref || typeof ref !== 'object') check.fail('ref', 'a reference UNet config object', ref);
  const list = (v: unknown): number[] | undefined =>
    v === undefined || v === null ? undefined : typeof v === 'string' ? (v.length ? v.split(',').map(Number) : []) : Array.isArray(v) ? v : [v as number];
  if ((ref.conditioning_feature_dim ?? -1) > 0) check.fail('ref.conditioning_feature_dim', 'a value <= 0 (text conditioning is not supported)', ref.conditioning_feature_dim);
  if (ref.micro_conditioning) check.fail('ref.micro_conditioning', 'null (micro-conditioning is not supported)', ref.micro_conditioning);
  if (ref.temporal_mode) check.fail('ref.temporal_mode', 'false (the video mode is out of scope)', ref.temporal_mode);
  if (ref.skip_inner_unet_input) check.fail('ref.skip_inner_unet_input', 'false (the reference crashes with it)', ref.skip_inner_unet_input);
  const rc = ref.resnet_config ?? {};
  const base: UNetConfig = {
    resolutionChannels: list(ref.resolution_channels)!,
    numResnetsPerResolution: list(ref.num_resnets_per_resolution),
    attentionLevels: list(ref.attention_levels) ?? [2, 3],
    numAttentionLayers: list(ref.num_attention_layers),
    temporalDim: ref.temporal_dim ?? null,
    skipMidBlocks: ref.skip_mid_blocks,
    numGroupsNorm: rc.num_groups_norm,
    dropout: rc.dropout,
    useAttentionFfn: rc.use_attention_ffn,
  };
  if (ref.inner_config) {
    return { ...base, skipMidBlocks: ref.skip_mid_blocks ?? true, inner: configFromReference(ref.inner_config), skipNormalization: ref.skip_normalization ?? false };
  }
  return base;
}
