// The local API keys: one per configured client (cdk.json `api.clients`), in its tier's usage
// plan, kept in `<dataDir>/api-keys.json` (owner-only) so that they stay the same from one
// `npm start` to the next. A client added to the config gets a key at the next start; a key whose
// client left the config stays in the file but is no longer accepted.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../../core/errors';
import type { ApiClientSetting } from './settings';

export const API_KEYS_FILE = 'api-keys.json';
export const apiKeysPath = (dataDir: string): string => join(dataDir, API_KEYS_FILE);

export interface LocalApiKey {
  readonly client: string;
  readonly tier: string;
  /** The `x-api-key` header value. */
  readonly key: string;
}

const KeysFile = z.object({
  keys: z.array(z.object({ client: z.string(), tier: z.string(), key: z.string().min(20) })),
});

/** API Gateway generates keys of 20+ letters and digits; these are 32 base64url characters. */
const newKey = (): string => randomBytes(24).toString('base64url');

/** The key of each client, created where missing; the file is rewritten only when a key was added. */
export function openApiKeys(dataDir: string, clients: readonly ApiClientSetting[]): LocalApiKey[] {
  const path = apiKeysPath(dataDir);
  let stored: LocalApiKey[] = [];
  try {
    const parsed = KeysFile.safeParse(JSON.parse(readFileSync(path, 'utf8')));
    if (!parsed.success) throw new ConfigError(`${path}: not an API key file (${parsed.error.issues[0]?.message ?? 'invalid'}); delete it to have new keys created`, 'api-keys');
    stored = parsed.data.keys;
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw new ConfigError(`${path}: ${(error as Error).message}`, 'api-keys');
  }
  const out: LocalApiKey[] = [];
  let added = false;
  for (const client of clients) {
    const existing = stored.find((k) => k.client === client.name);
    if (existing) {
      // The tier follows the config: moving a client to another tier keeps its key.
      out.push({ client: client.name, tier: client.tier, key: existing.key });
    } else {
      out.push({ client: client.name, tier: client.tier, key: newKey() });
      added = true;
    }
  }
  if (added || out.some((k) => stored.find((s) => s.client === k.client)?.tier !== k.tier)) {
    const keep = stored.filter((s) => !out.some((k) => k.client === s.client));
    mkdirSync(dirname(path), { recursive: true });
    const tmp = `${path}.${process.pid}.${randomUUID()}.tmp`;
    writeFileSync(tmp, `${JSON.stringify({ keys: [...out, ...keep] }, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, path);
  }
  return out;
}
