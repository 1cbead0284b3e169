// Avro object container files (manifests, manifest lists) in memory. avsc encodes and decodes the
// records; the container framing is written here so the header carries exactly the schema JSON we
// give it — Iceberg's `field-id` attributes included, which readers resolve fields by — and the
// key-value metadata the spec requires.
import { randomBytes } from 'node:crypto';
import { inflateRawSync } from 'node:zlib';
import avro from 'avsc';
import { ResourceError } from '../../core/errors';
import type { AvroSchema, AvroValue } from '../../core/iceberg';

const MAGIC = Buffer.from([0x4f, 0x62, 0x6a, 0x01]); // "Obj" 1
const META_TYPE = avro.Type.forSchema({ type: 'map', values: 'bytes' });
const LONG_TYPE = avro.Type.forSchema('long');

/** Encodes records as one Avro container file (codec null, one block). */
export function encodeAvroFile(schema: AvroSchema, records: readonly AvroValue[], metadata: Readonly<Record<string, string>>): Buffer {
  const type = avro.Type.forSchema(schema as avro.Schema, { wrapUnions: 'never' });
  const meta: Record<string, Buffer> = { 'avro.schema': Buffer.from(JSON.stringify(schema)), 'avro.codec': Buffer.from('null') };
  for (const [key, value] of Object.entries(metadata)) meta[key] = Buffer.from(value);
  const sync = randomBytes(16);
  const parts: Buffer[] = [MAGIC, META_TYPE.toBuffer(meta), sync];
  if (records.length > 0) {
    const body = Buffer.concat(records.map((r) => type.toBuffer(toAvsc(r))));
    parts.push(LONG_TYPE.toBuffer(records.length), LONG_TYPE.toBuffer(body.length), body, sync);
  }
  return Buffer.concat(parts);
}

export interface AvroFile {
  readonly metadata: Readonly<Record<string, string>>;
  /** Records as plain objects: longs are numbers (an unsafe long fails), bytes are Uint8Array. */
  readonly records: readonly unknown[];
}

/** Decodes an Avro container file with the writer schema in its header (codec null or deflate). */
export function decodeAvroFile(bytes: Uint8Array, where: string): AvroFile {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = (why: string): never => {
    throw new ResourceError(`${where}: not a readable Avro file (${why})`, where, false);
  };
  try {
    if (buf.length < 4 || !buf.subarray(0, 4).equals(MAGIC)) fail('bad magic');
    const head = META_TYPE.decode(buf, 4);
    if (head.offset < 0) fail('truncated header');
    const rawMeta = head.value as Record<string, Buffer>;
    const metadata: Record<string, string> = {};
    for (const [key, value] of Object.entries(rawMeta)) metadata[key] = value.toString('utf8');
    const schemaJson = metadata['avro.schema'];
    if (schemaJson === undefined) fail('no avro.schema');
    const codec = metadata['avro.codec'] ?? 'null';
    if (codec !== 'null' && codec !== 'deflate') fail(`codec ${codec}`);
    const type = avro.Type.forSchema(JSON.parse(schemaJson as string) as avro.Schema, { wrapUnions: 'never' });
    const sync = buf.subarray(head.offset, head.offset + 16);
    let pos = head.offset + 16;
    const records: unknown[] = [];
    while (pos < buf.length) {
      const count = LONG_TYPE.decode(buf, pos);
      const size = LONG_TYPE.decode(buf, count.offset);
      if (count.offset < 0 || size.offset < 0) fail('truncated block header');
      const end = size.offset + (size.value as number);
      if (end + 16 > buf.length) fail('truncated block');
      let block = buf.subarray(size.offset, end);
      if (codec === 'deflate') block = inflateRawSync(block);
      let at = 0;
      for (let i = 0; i < Math.abs(count.value as number); i++) {
        const record = type.decode(block, at);
        if (record.offset < 0) fail('truncated record');
        records.push(plain(record.value));
        at = record.offset;
      }
      if (!buf.subarray(end, end + 16).equals(sync)) fail('sync marker mismatch');
      pos = end + 16;
    }
    return { metadata, records };
  } catch (error) {
    if (error instanceof ResourceError) throw error;
    return fail(error instanceof Error ? error.message : String(error));
  }
}

/** avsc wants Buffers for bytes. */
function toAvsc(value: AvroValue): unknown {
  if (value instanceof Uint8Array) return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (Array.isArray(value)) return value.map(toAvsc);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, AvroValue>)) out[k] = toAvsc(v);
    return out;
  }
  return value;
}

/** avsc decodes records as instances of generated classes; the model wants plain objects. */
function plain(value: unknown): unknown {
  if (value instanceof Uint8Array) return new Uint8Array(value);
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = plain(v);
    return out;
  }
  return value;
}
