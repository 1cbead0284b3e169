// `fathom token --client NAME --scopes score,ingest [--ttl 3600]`: an access token signed by the
// local issuer (the ES256 key under the data dir, created on first use), for the local API's
// `Authorization: Bearer …`. The token is the one line on stdout; --json prints it with its
// client, scopes and expiry. No platform needs to run: the local API verifies with the same key.
//
// Any client name is accepted locally. A client named in cdk.json's `api.clients` gets at most
// the scopes configured for it (its Cognito app client could not ask for more on AWS), and its
// configured scopes when --scopes is left out.
import { resolve } from 'node:path';
import { parseScopeList } from '../core/api/scopes';
import type { Scope } from '../core/api/routes';
import { SCOPES } from '../core/api/routes';
import { ValidationError } from '../core/errors';
import { DEFAULT_TOKEN_TTL_SECONDS, LocalIssuer, MAX_TOKEN_TTL_SECONDS } from '../local/api/issuer';
import { readApiSettings, type LocalApiSettings } from '../local/api/settings';
import { DEFAULT_DATA_DIR } from '../local/stand-ins';
import { integerFlag, parseFlags, UsageError } from './args';

export const TOKEN_USAGE = `usage: fathom token --client NAME [--scopes LIST] [options]
  --client NAME      the client the token is issued to (its client_id and sub)
  --scopes LIST      comma-separated: ${SCOPES.join(', ')} (also fathom/<scope>); default: the
                     client's scopes in cdk.json api.clients, required for other names
  --ttl SECONDS      lifetime (default ${DEFAULT_TOKEN_TTL_SECONDS}, at most ${MAX_TOKEN_TTL_SECONDS})
  --data-dir DIR     local state, where the issuer key lives (default .fathom)
  --json             print {"token", "client", "scopes", "expires_at"} instead of the bare token
  -h, --help         this text
Use it with the local API: curl -H "Authorization: Bearer $(npx fathom token --client default --scopes score)" -H "x-api-key: <key from .fathom/api-keys.json>" …`;

const CLIENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export interface TokenArgs {
  readonly client: string;
  readonly scopes: readonly Scope[];
  readonly ttlSeconds: number;
  readonly dataDir: string;
  readonly json: boolean;
}

/** Reads the command line; `undefined` means --help. A UsageError names the flag at fault. */
export function parseTokenArgs(argv: readonly string[], settings: LocalApiSettings = readApiSettings()): TokenArgs | undefined {
  const v = parseFlags(argv, {
    client: { type: 'string' },
    scopes: { type: 'string' },
    ttl: { type: 'string' },
    'data-dir': { type: 'string' },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (v.help) return undefined;
  const client = v.client?.trim();
  if (!client) throw new UsageError('--client is required', '--client');
  if (!CLIENT_NAME.test(client)) throw new UsageError(`--client must be 1-128 letters, digits, . _ or -, starting with a letter or digit (got "${client}")`, '--client');
  const configured = settings.clients.find((c) => c.name === client);
  let scopes: readonly Scope[];
  if (v.scopes === undefined) {
    if (!configured) throw new UsageError(`--scopes is required: client ${client} is not in cdk.json api.clients`, '--scopes');
    scopes = configured.scopes;
  } else {
    const parsed = parseScopeList(v.scopes);
    if (parsed.unknown.length > 0) throw new UsageError(`--scopes: unknown scope ${parsed.unknown.join(', ')} (one of ${SCOPES.join(', ')})`, '--scopes');
    if (parsed.scopes.length === 0) throw new UsageError('--scopes must name at least one scope', '--scopes');
    const beyond = configured ? parsed.scopes.filter((s) => !configured.scopes.includes(s)) : [];
    if (beyond.length > 0) throw new UsageError(`--scopes: client ${client} may not have ${beyond.join(', ')} (cdk.json api.clients gives it ${configured!.scopes.join(', ')})`, '--scopes');
    scopes = parsed.scopes;
  }
  const dataDir = v['data-dir'] ?? DEFAULT_DATA_DIR;
  if (dataDir.trim() === '') throw new UsageError('--data-dir must not be empty', '--data-dir');
  return {
    client,
    scopes,
    ttlSeconds: integerFlag('--ttl', v.ttl, 1, MAX_TOKEN_TTL_SECONDS) ?? DEFAULT_TOKEN_TTL_SECONDS,
    dataDir: resolve(dataDir),
    json: v.json ?? false,
  };
}

/** `fathom token …`: a bad flag prints the reason and the usage, exit code 2. */
export async function runToken(argv: string[]): Promise<void> {
  let args: TokenArgs | undefined;
  try {
    args = parseTokenArgs(argv);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    process.stderr.write(`fathom token: ${error.message}\n${TOKEN_USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  if (args === undefined) {
    process.stdout.write(`${TOKEN_USAGE}\n`);
    return;
  }
  const issuer = await LocalIssuer.open(args.dataDir);
  const issued = await issuer.sign({ client: args.client, scopes: args.scopes, ttlSeconds: args.ttlSeconds });
  if (args.json) {
    process.stdout.write(`${JSON.stringify({ token: issued.token, client: issued.client, scopes: issued.scopes, expires_at: new Date(issued.expiresAt * 1000).toISOString() })}\n`);
  } else {
    process.stdout.write(`${issued.token}\n`);
  }
}
