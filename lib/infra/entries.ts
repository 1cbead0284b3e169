// Where the Lambda handlers' entry files live. Infra points at them by path and never imports
// their code (DESIGN.md, Layout): esbuild bundles each entry with its own imports at synth time.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: package.json, package-lock.json and lambdas/ live here. */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The lock file NodejsFunction hashes and installs from; it also marks the bundling project root. */
export const LOCK_FILE = join(REPO_ROOT, 'package-lock.json');

/**
 * The absolute path of `lambdas/<name>/handler.ts`.
 * @throws Error when the file is missing, so a renamed handler fails synth with its path, not esbuild's.
 */
export function handlerEntry(name: string): string {
  const entry = join(REPO_ROOT, 'lambdas', name, 'handler.ts');
  if (!existsSync(entry)) throw new Error(`Lambda entry ${entry} does not exist`);
  return entry;
}
