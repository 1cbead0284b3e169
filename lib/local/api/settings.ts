// The local API's usage plans and clients: the `api.tiers` and `api.clients` of cdk.json's
// `fathom` context, the numbers the CDK usage plans are built from. Read here from cdk.json
// directly, not through lib/infra/config.ts: that module is CDK code (it imports aws-cdk-lib),
// which lib/local may not import. Only these two settings are read, with the config's defaults
// (API_TIER_DEFAULTS, one `default` client of the standard tier with every scope); the full
// validation of the section stays with the CDK config, which `cdk synth` runs.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { SCOPES, type Scope } from '../../core/api/routes';
import type { UsagePlanLimits } from '../../core/api/usage-plan';
import { ConfigError } from '../../core/errors';
import { API_TIER_DEFAULTS } from '../../core/resources';

export const CDK_JSON = fileURLToPath(new URL('../../../cdk.json', import.meta.url));

export interface ApiClientSetting {
  readonly name: string;
  readonly tier: string;
  readonly scopes: readonly Scope[];
}

export interface LocalApiSettings {
  readonly tiers: Readonly<Record<string, UsagePlanLimits>>;
  readonly clients: readonly ApiClientSetting[];
}

const Tier = z.object({
  rateLimit: z.number().positive(),
  burstLimit: z.number().int().min(1),
  quotaPerDay: z.number().int().min(1),
});

const Client = z.object({
  name: z.string().regex(/^[a-z][a-z0-9-]{0,62}$/, 'must be 1-63 lowercase letters, digits or -, starting with a letter'),
  tier: z.string().min(1),
  scopes: z.array(z.enum(SCOPES)).min(1).default([...SCOPES]),
});

const Api = z.object({
  tiers: z.record(z.string(), Tier).optional(),
  clients: z.array(Client).optional(),
});

export const DEFAULT_API_SETTINGS: LocalApiSettings = {
  tiers: API_TIER_DEFAULTS,
  clients: [{ name: 'default', tier: 'standard', scopes: [...SCOPES] }],
};

/** The settings of `cdk.json` (or another file of its shape), defaults where it says nothing. */
export function readApiSettings(path = CDK_JSON): LocalApiSettings {
  let context: unknown;
  try {
    context = (JSON.parse(readFileSync(path, 'utf8')) as { context?: { fathom?: { api?: unknown } } }).context?.fathom?.api;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return DEFAULT_API_SETTINGS;
    throw new ConfigError(`${path}: ${(error as Error).message}`, 'cdk.json');
  }
  return parseApiSettings(context ?? {}, path);
}

export function parseApiSettings(input: unknown, where = 'api settings'): LocalApiSettings {
  const r = Api.safeParse(input);
  if (!r.success) {
    const issue = r.error.issues[0];
    const field = `api.${issue?.path.map(String).join('.') ?? ''}`;
    throw new ConfigError(`${where}: ${field}: ${issue?.message ?? 'invalid'}`, field);
  }
  const tiers = r.data.tiers ?? DEFAULT_API_SETTINGS.tiers;
  const clients = r.data.clients ?? DEFAULT_API_SETTINGS.clients;
  clients.forEach((c, i) => {
    if (!tiers[c.tier]) throw new ConfigError(`${where}: api.clients.${i}.tier: must be one of the tiers: ${Object.keys(tiers).join(', ')}`, `api.clients.${i}.tier`);
  });
  return { tiers, clients };
}
