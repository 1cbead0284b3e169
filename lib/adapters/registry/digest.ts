// SHA-256, the one digest of the package contract: of the ONNX bytes (`onnx_sha256`) and of the
// signing payload (what KMS signs as a DIGEST).
import { createHash } from 'node:crypto';

export const sha256 = (bytes: Uint8Array): Uint8Array => createHash('sha256').update(bytes).digest();
export const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');
