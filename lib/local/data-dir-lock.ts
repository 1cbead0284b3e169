// One platform per data dir. The LevelDB stores under it hold their own locks, but a second holder
// only learns that from an uncatchable 'error' event that kills the process; this lock turns the
// same conflict into a clear error before anything opens.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ResourceError } from '../core/errors';

const held = new Set<string>();

export interface DataDirLock {
  release(): void;
}

export function lockDataDir(dataDir: string): DataDirLock {
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, 'platform.lock');
  if (held.has(file)) throw inUse(dataDir, process.pid);
  try {
    writeFileSync(file, String(process.pid), { flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const owner = Number(readFileSync(file, 'utf8'));
    if (Number.isInteger(owner) && owner > 0 && isAlive(owner)) throw inUse(dataDir, owner);
    // Left behind by a process that died without stopping: take it over.
    writeFileSync(file, String(process.pid));
  }
  held.add(file);
  return {
    release() {
      if (!held.delete(file)) return;
      rmSync(file, { force: true });
    },
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function inUse(dataDir: string, pid: number): ResourceError {
  return new ResourceError(
    `${dataDir} is in use by another local platform (pid ${pid}); stop it or pass another --data-dir`,
    dataDir,
    false,
  );
}
