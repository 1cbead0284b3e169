// A model package on disk, as the trainer writes it: `<dir>/model.onnx` and `<dir>/manifest.json`.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ValidationError } from '../../core/errors';
import { MANIFEST_FILE, MODEL_FILE } from '../../core/models/manifest';

export interface PackageFiles {
  /** The parsed JSON of manifest.json, not yet validated. */
  readonly manifest: unknown;
  readonly onnx: Uint8Array;
}

async function read(path: string, field: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ValidationError(`${path}: ${code === 'ENOENT' ? 'no such file' : (error as Error).message}`, field);
  }
}

/** Reads both files; a missing file or a manifest that is not JSON is a ValidationError naming the file. */
export async function readPackageDir(dir: string): Promise<PackageFiles> {
  const [manifestBytes, onnx] = await Promise.all([read(join(dir, MANIFEST_FILE), MANIFEST_FILE), read(join(dir, MODEL_FILE), MODEL_FILE)]);
  let manifest: unknown;
  try {
    manifest = JSON.parse(manifestBytes.toString('utf8'));
  } catch (error) {
    throw new ValidationError(`${join(dir, MANIFEST_FILE)} is not valid JSON: ${(error as Error).message}`, MANIFEST_FILE);
  }
  return { manifest, onnx: new Uint8Array(onnx.buffer, onnx.byteOffset, onnx.byteLength) };
}
