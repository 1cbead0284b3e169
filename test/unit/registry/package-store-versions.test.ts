// Object versions, which s3rver does not have: a fake client stands in for a versioned bucket so the
// store's handling of VersionId (kept from PutObject, sent on GetObject, "null" ignored) is checked.
// Everything else about the store runs against s3rver in test/integration/registry*.test.ts.
import { GetObjectCommand, HeadObjectCommand, NotFound, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { S3PackageStore } from '../../../lib/adapters/registry/package-store';

type Sent = HeadObjectCommand | PutObjectCommand | GetObjectCommand;

/** A versioned bucket in memory: every put adds a version; reads by VersionId or the latest. */
function versionedBucket() {
  const versions = new Map<string, { id: string; body: Uint8Array }[]>();
  const sent: Sent[] = [];
  let next = 0;
  const client = {
    async send(command: Sent): Promise<unknown> {
      sent.push(command);
      const key = command.input.Key ?? '';
      const list = versions.get(key) ?? [];
      if (command instanceof PutObjectCommand) {
        const id = `v${++next}`;
        versions.set(key, [...list, { id, body: command.input.Body as Uint8Array }]);
        return { VersionId: id };
      }
      const wanted = command.input.VersionId;
      const found = wanted ? list.find((v) => v.id === wanted) : list.at(-1);
      if (!found) throw new NotFound({ message: 'not found', $metadata: { httpStatusCode: 404 } });
      if (command instanceof HeadObjectCommand) return { VersionId: found.id };
      return { VersionId: found.id, Body: { transformToByteArray: async () => found.body } };
    },
  };
  return { s3: client as unknown as S3Client, sent, versions };
}

describe('S3PackageStore on a versioned bucket', () => {
  it('keeps the VersionId a put returns and reads exactly that version back', async () => {
    const bucket = versionedBucket();
    const store = new S3PackageStore(bucket.s3, 'models-bucket');
    const stored = await store.putNew('models/fraud/1/model.onnx', new Uint8Array([1, 2, 3]), 'application/octet-stream');
    expect(stored).toEqual({ key: 'models/fraud/1/model.onnx', versionId: 'v1' });
    const put = bucket.sent.find((c): c is PutObjectCommand => c instanceof PutObjectCommand);
    expect(put?.input).toMatchObject({ Bucket: 'models-bucket', IfNoneMatch: '*', ContentType: 'application/octet-stream' });

    // Someone writes a newer version behind the registry's back: the recorded one is still what is read.
    bucket.versions.get('models/fraud/1/model.onnx')?.push({ id: 'v9', body: new Uint8Array([6, 6, 6]) });
    expect([...(await store.get(stored))]).toEqual([1, 2, 3]);
    const get = bucket.sent.filter((c): c is GetObjectCommand => c instanceof GetObjectCommand).at(-1);
    expect(get?.input.VersionId).toBe('v1');
    // Without a recorded version, the current one.
    expect([...(await store.get({ key: 'models/fraud/1/model.onnx' }))]).toEqual([6, 6, 6]);
  });

  it('refuses to write over an existing object and treats the "null" version as none', async () => {
    const bucket = versionedBucket();
    const store = new S3PackageStore(bucket.s3, 'models-bucket');
    await store.putNew('models/fraud/1/manifest.json', new Uint8Array([1]), 'application/json');
    await expect(store.putNew('models/fraud/1/manifest.json', new Uint8Array([2]), 'application/json')).rejects.toThrow(/never overwritten/);
    expect(bucket.versions.get('models/fraud/1/manifest.json')).toHaveLength(1);

    const unversioned = { send: async () => ({ VersionId: 'null' }) } as unknown as S3Client;
    expect(await new S3PackageStore(unversioned, 'b').head('k')).toEqual({ key: 'k' });
  });
});
