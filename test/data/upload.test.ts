// Data in from anywhere, safely: the hostile suite against a real server and a real S3-compatible server
// (s3rver). Every hostile archive, bucket and path is refused with the limit it crossed named, nothing is
// stored (no dataset row, no photo in the store, nothing left in the scratch folder), and the server goes
// on answering others. Then the good paths: a folder uploaded through the SDK (packed on the client), a
// bucket prefix, versions by content digest, and the progress subscription.
import { mkdir, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import path from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../src/api/server.js';
import type { App } from '../../src/app.js';
import { unpackArchive } from '../../src/data/archive.js';
import { writeSyntheticDataset } from '../../src/data/synth.js';
import { PROCESS_ID } from '../../src/host.js';
import { FashionHowClient } from '../../src/sdk/index.js';
import { lyingZip, tarArchive, zeroBlockTarGz, zipArchive } from '../fixtures/archives.js';
import { type S3TestServer, startS3Server } from '../fixtures/s3.js';
import { graphqlClient, multipartClient, naiveCsv, openTestApp, pngClaiming, storedRowCounts, testConfig, useScratchDir } from '../helpers.js';

const scratch = useScratchDir();
let s3: S3TestServer;
let app: App;
let server: RunningServer;
let trainer: string;
let admin: string;
let synthetic: Awaited<ReturnType<typeof writeSyntheticDataset>>;

const UPLOAD = `mutation($archive: Upload!, $input: UploadDatasetInput) {
  uploadDataset(archive: $archive, input: $input) { created itemCount dataset { id name version digest parent { id } } }
}`;
const IMPORT = `mutation($input: ImportDatasetInput!) {
  importDataset(input: $input) { created itemCount dataset { id name version digest } }
}`;

/** The synthetic dataset's files as archive entries (train.csv, images/...). */
async function datasetEntries(csv?: string): Promise<{ name: string; data: Buffer }[]> {
  const root = path.dirname(synthetic.csvPath);
  const images = synthetic.rows.map((r) => r.imageName);
  return [
    { name: 'train.csv', data: csv === undefined ? await readFile(synthetic.csvPath) : Buffer.from(csv) },
    ...(await Promise.all(images.map(async (name) => ({ name: `images/${name}`, data: await readFile(path.join(root, 'images', name)) })))),
  ];
}

const upload = (archive: Uint8Array, input: Record<string, unknown> = {}, token = trainer) =>
  multipartClient(server.graphqlUrl, token)(UPLOAD, { archive: null, input }, { archive });

/** Everything an import could have left: rows, photos in the store, files in the scratch folder. */
async function leftovers() {
  const files = async (dir: string) => (await readdir(dir, { recursive: true }).catch(() => [])).length;
  return {
    rows: await storedRowCounts(app),
    photos: await files(path.join(scratch.dir, 'data', 'artifacts', 'image')),
    // The server's own scratch folder (made at start, empty between imports) is not a leftover.
    scratch: (await readdir(path.join(scratch.dir, 'data', 'scratch'), { recursive: true }).catch(() => [])).filter((name) => name !== PROCESS_ID).length,
  };
}

/** Files under the scratch folder that this process (the server's) still holds open, deleted or not:
 *  a refused archive's streams must be closed, not merely unlinked. Linux only; elsewhere none are seen. */
async function scratchFilesHeldOpen(): Promise<string[]> {
  const fds = await readdir('/proc/self/fd').catch(() => [] as string[]);
  const targets = await Promise.all(fds.map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')));
  return targets.filter((t) => t.startsWith(path.join(scratch.dir, 'data', 'scratch')));
}

beforeAll(async () => {
  s3 = await startS3Server({ bucket: 'datasets' });
  const base = testConfig(path.join(scratch.dir, 'data'));
  app = await openTestApp(path.join(scratch.dir, 'data'), {
    imports: {
      ...base.imports,
      roots: [path.join(scratch.dir, 'allowed')],
      buckets: [{ bucket: 'datasets', prefix: 'team' }],
      s3: { endpoint: s3.endpoint, region: 'us-east-1', credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } },
    },
  });
  server = await startServer(app);
  trainer = (await app.services.tokens.create('uploader', 'trainer')).token;
  admin = (await app.services.tokens.create('operator', 'admin')).token;
  synthetic = await writeSyntheticDataset({ out: path.join(scratch.dir, 'allowed', 'synth'), count: 30, seed: 8, minSide: 64, maxSide: 96 });
}, 120_000);
afterAll(async () => {
  await server?.close();
  await app?.close();
  await s3?.stop();
});

describe('the hostile suite: each refused with its limit named, nothing stored, the server serving others', () => {
  const refusals: [string, () => Promise<Buffer>, RegExp][] = [
    // 200 MB of zeros deflates to about 200 KB: a ratio of 1000, refused from the central directory alone.
    ['a zip bomb', async () => zipArchive([{ name: 'train.csv', data: Buffer.alloc(200 * 1024 * 1024), deflate: true }]), /FASHION_HOW_MAX_COMPRESSION_RATIO/],
    [
      'a zip entry that climbs out with ../',
      async () => zipArchive([{ name: '../../evil.csv', data: Buffer.from('x') }]),
      /"\.\.\/\.\.\/evil\.csv" contains "\.\."/,
    ],
    ['an absolute tar entry', () => tarArchive([{ name: '/etc/cron.d/evil', data: Buffer.from('x') }]), /absolute path/],
    ['a tar entry that climbs out with ../', () => tarArchive([{ name: 'a/../../evil', data: Buffer.from('x') }]), /contains "\.\."/],
    ['a symbolic link in a tar', () => tarArchive([{ name: 'images/passwd.jpg', type: 'symlink', linkname: '/etc/passwd' }]), /is a symbolic link/],
    ['a hard link in a tar', () => tarArchive([{ name: 'images/shadow.jpg', type: 'link', linkname: '/etc/shadow' }]), /is a hard link/],
    [
      'a symbolic link in a zip',
      async () => zipArchive([{ name: 'images/passwd.jpg', data: Buffer.from('/etc/passwd'), mode: 0o120777 }]),
      /is a symbolic link/,
    ],
    ['a device in a tar', () => tarArchive([{ name: 'dev/zero', type: 'character-device' }]), /is a device/],
    [
      '100,000 tiny entries',
      () =>
        tarArchive(
          (function* () {
            for (let i = 0; i < 100_000; i++) yield { name: `images/${i}.jpg`, data: Buffer.from('x') };
          })(),
        ),
      /more than 50000 entries \(limit FASHION_HOW_MAX_ARCHIVE_ENTRIES\)/,
    ],
    [
      'a CSV over the row limit',
      async () =>
        tarArchive(
          [
            {
              name: 'train.csv',
              data: Buffer.from(`image_name,BBox_xmin,BBox_ymin,BBox_xmax,BBox_ymax,Daily,Gender,Embellishment\n${'a.jpg,0,0,1,1,0,0,0\n'.repeat(200_001)}`),
            },
          ],
          { gzip: false },
        ), // a plain tar: no ratio to refuse first
      /more than 200000 rows, over the limit of 200000 \(FASHION_HOW_MAX_IMPORT_ROWS\); reading stopped at line 200002/,
    ],
    [
      'an image bomb inside the archive',
      async () =>
        tarArchive([
          { name: 'train.csv', data: Buffer.from('image_name,BBox_xmin,BBox_ymin,BBox_xmax,BBox_ymax,Daily,Gender,Embellishment\nbomb.png,0,0,10,10,0,0,0\n') },
          { name: 'images/bomb.png', data: pngClaiming(60_000, 60_000) },
        ]),
      /60000x60000 = 3600000000 pixels, over the limit of 40000000 pixels \(FASHION_HOW_MAX_IMAGE_PIXELS\)/,
    ],
    [
      'a tar.gz cut off halfway',
      async () => {
        const whole = await tarArchive(await datasetEntries());
        return whole.subarray(0, Math.floor(whole.length / 2));
      },
      /not a readable tar archive/,
    ],
    ['a file that is no archive', async () => Buffer.from('image_name,BBox_xmin\n'), /not a \.zip, \.tar or \.tar\.gz archive/],
  ];

  for (const [what, make, message] of refusals) {
    it(`refuses ${what}`, async () => {
      const before = await leftovers();
      const { errors } = await upload(await make());
      expect(errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(errors?.[0]?.message).toMatch(message);
      expect(errors?.[0]?.message).not.toContain(scratch.dir); // no server path in any refusal
      expect(await leftovers()).toEqual(before);
      const { data } = await graphqlClient(server.graphqlUrl)('{ health { ok database } }');
      expect(data?.health).toEqual({ ok: true, database: true });
    }, 120_000);
  }

  it('refuses a zip whose entry inflates past the size its headers declare, 20 times over, and goes on serving', async () => {
    // 51 KB whose one entry declares 1,000 bytes and inflates to 50 MiB: yauzl's size check fails while
    // the entry's file is still being made, an 'error' that once went unheard and ended the process.
    const zip = lyingZip({ name: 'images/lying.jpg', claimed: 1000, inflated: 50 * 1024 * 1024 });
    expect(zip.length).toBeLessThan(60_000);
    const before = await leftovers();
    const health = graphqlClient(server.graphqlUrl);
    // Vitest outlives an uncaught exception (it reports it after the run), which `fashion-how serve`
    // does not: the test hears them itself, so that one fails it here.
    const unheard: Error[] = [];
    const hear = (error: Error) => unheard.push(error);
    process.on('uncaughtException', hear);
    try {
      for (let i = 0; i < 20; i++) {
        const { errors } = await upload(zip);
        expect(errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
        expect(errors?.[0]?.message).toMatch(/refused, nothing was imported: entry "images\/lying\.jpg" holds more bytes than its header says \(1000\)/);
        const { data } = await health('{ health { ok database } }');
        expect(data?.health).toEqual({ ok: true, database: true });
        expect(unheard.map((e) => e.message)).toEqual([]);
        expect(await leftovers()).toEqual(before);
        await expect.poll(scratchFilesHeldOpen, { timeout: 2000 }).toEqual([]);
      }
    } finally {
      process.off('uncaughtException', hear);
    }
  }, 120_000);

  it('refuses a .tar.gz of three photos and 512 MiB of zero blocks by its ratio, in its header pass', async () => {
    const [csv, ...photos] = await datasetEntries();
    const rows = csv!.data.toString().trim().split('\n').slice(0, 4); // the header and three rows
    const images = rows.slice(1).map((row) => `images/${row.split(',')[0]}`);
    const archive = await zeroBlockTarGz(
      [{ name: 'train.csv', data: Buffer.from(`${rows.join('\n')}\n`) }, ...photos.filter((p) => images.includes(p.name))],
      512 * 1024 * 1024,
    );
    expect(archive.length).toBeLessThan(1024 * 1024);
    const before = await leftovers();
    const cpu = process.cpuUsage();
    const started = performance.now();
    const { errors } = await upload(archive);
    const wall = performance.now() - started;
    const { user, system } = process.cpuUsage(cpu);
    // The server runs in this process: its CPU time is the measure (48 CPU-seconds for 4 GiB).
    console.log(`zero-block .tar.gz (${archive.length} bytes): refused in ${wall.toFixed(0)} ms, ${((user + system) / 1000).toFixed(0)} ms of CPU`);
    expect(errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(errors?.[0]?.message).toMatch(/its tar stream inflates to more than 100 times .* \(limit FASHION_HOW_MAX_COMPRESSION_RATIO\)/);
    expect(user + system).toBeLessThan(1_000_000);
    expect(await leftovers()).toEqual(before);
    await expect.poll(scratchFilesHeldOpen, { timeout: 2000 }).toEqual([]);
  }, 120_000);

  it("counts a plain tar's zero blocks against FASHION_HOW_MAX_ARCHIVE_EXPANDED_BYTES, with 1024 bytes of headers per allowed entry", async () => {
    // A plain tar has no ratio to cross: 2 MiB of zero blocks behind one small file cross 1 MiB + 10 x 1024.
    const dir = path.join(scratch.dir, 'zero-blocks');
    await mkdir(path.join(dir, 'into'), { recursive: true });
    const tar = await tarArchive([{ name: 'train.csv', data: Buffer.from('image_name\n') }], { gzip: false });
    const limits = { maxEntries: 10, maxExpandedBytes: 1024 * 1024, maxCompressionRatio: 100 };
    await writeFile(path.join(dir, 'within.tar'), Buffer.concat([tar, Buffer.alloc(1024 * 1024)]));
    await expect(unpackArchive(path.join(dir, 'within.tar'), path.join(dir, 'into'), limits)).resolves.toEqual({ entries: 1, bytes: 11 });
    await rm(path.join(dir, 'into'), { recursive: true });
    await mkdir(path.join(dir, 'into'));
    await writeFile(path.join(dir, 'over.tar'), Buffer.concat([tar, Buffer.alloc(2 * 1024 * 1024)]));
    await expect(unpackArchive(path.join(dir, 'over.tar'), path.join(dir, 'into'), limits)).rejects.toThrow(
      /its tar stream is over 1048576 bytes plus 1024 bytes of headers per allowed entry \(limit FASHION_HOW_MAX_ARCHIVE_EXPANDED_BYTES\)/,
    );
    expect(await readdir(path.join(dir, 'into'))).toEqual([]); // refused in the header pass: nothing written
    await rm(dir, { recursive: true });
  });

  it('an upload cut off mid-body stores nothing, and the server answers the next request', async () => {
    const before = await leftovers();
    const body = await tarArchive(await datasetEntries());
    const boundary = 'fashionhowboundary';
    const head = Buffer.from(
      `--${boundary}\r\ncontent-disposition: form-data; name="operations"\r\n\r\n${JSON.stringify({ query: UPLOAD, variables: { archive: null } })}\r\n` +
        `--${boundary}\r\ncontent-disposition: form-data; name="map"\r\n\r\n{"0":["variables.archive"]}\r\n` +
        `--${boundary}\r\ncontent-disposition: form-data; name="0"; filename="d.tar.gz"\r\ncontent-type: application/gzip\r\n\r\n`,
    );
    await new Promise<void>((resolve) => {
      const req = request(server.graphqlUrl, {
        method: 'POST',
        headers: {
          'content-type': `multipart/form-data; boundary=${boundary}`,
          'content-length': String(head.length + body.length + 100),
          'apollo-require-preflight': 'true',
          authorization: `Bearer ${trainer}`,
        },
      });
      req.on('error', () => resolve());
      req.on('close', () => resolve());
      req.write(Buffer.concat([head, body.subarray(0, body.length / 2)]), () => setTimeout(() => req.destroy(), 300));
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await leftovers()).toEqual(before);
    const { data } = await graphqlClient(server.graphqlUrl)('{ health { ok } }');
    expect(data?.health.ok).toBe(true);
  });

  it("refuses a trainer's server paths, and answers missing and not allowed alike for an admin", async () => {
    const before = await leftovers();
    const asTrainer = graphqlClient(server.graphqlUrl, trainer);
    for (const csvPath of ['/root', '/etc/passwd', synthetic.csvPath]) {
      const { errors } = await asTrainer(IMPORT, { input: { csvPath } });
      expect(errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      expect(errors?.[0]?.message).toMatch(/needs role admin/);
    }
    const { errors: schemaProbe } = await asTrainer(IMPORT, { input: { csvPath: synthetic.csvPath, labelSchemaPath: '/etc/shadow' } });
    expect(schemaProbe?.[0]?.message).toMatch(/needs role admin/);
    const asAdmin = graphqlClient(server.graphqlUrl, admin);
    const outside = await asAdmin(IMPORT, { input: { csvPath: '/etc/passwd' } });
    const missing = await asAdmin(IMPORT, { input: { csvPath: path.join(scratch.dir, 'allowed', 'nothing.csv') } });
    const probe = (p: string) => outside.errors![0]!.message.replace(JSON.stringify(p), 'PATH');
    expect(outside.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(probe('/etc/passwd')).toBe(missing.errors![0]!.message.replace(JSON.stringify(path.join(scratch.dir, 'allowed', 'nothing.csv')), 'PATH'));
    const schemaOutside = await asAdmin(IMPORT, { input: { csvPath: synthetic.csvPath, labelSchemaPath: '/etc/shadow' } });
    // Even an admin's own path is not echoed: whatever looks like a server path leaves the API masked.
    expect(schemaOutside.errors?.[0]?.message).toBe(
      `labelSchemaPath "<server path>" is not a readable path under this server's import roots (FASHION_HOW_IMPORT_ROOTS)`,
    );
    expect(await leftovers()).toEqual(before);
  });

  it('refuses buckets outside FASHION_HOW_IMPORT_BUCKETS and hostile objects in allowed ones', async () => {
    const before = await leftovers();
    const gql = graphqlClient(server.graphqlUrl, trainer);
    const other = await gql(IMPORT, { input: { bucket: 's3://datasets/elsewhere/ds' } });
    expect(other.errors?.[0]).toMatchObject({ extensions: { code: 'FORBIDDEN' } });
    expect(other.errors?.[0]?.message).toMatch(/FASHION_HOW_IMPORT_BUCKETS/);
    await s3.writeObject('team/bomb.zip', zipArchive([{ name: 'train.csv', data: Buffer.alloc(50 * 1024 * 1024), deflate: true }]));
    const bomb = await gql(IMPORT, { input: { bucket: 's3://datasets/team/bomb.zip' } });
    expect(bomb.errors?.[0]?.message).toMatch(/FASHION_HOW_MAX_COMPRESSION_RATIO/);
    const climb = await gql(IMPORT, { input: { bucket: 's3://datasets/team/../secrets' } });
    expect(climb.errors?.[0]?.message).toMatch(/contains "\.\."/);
    expect(await leftovers()).toEqual(before);
  });
});

describe('data in from anywhere', () => {
  it('imports a folder uploaded through the SDK, following its progress; the same content again is the same dataset', async () => {
    const client = new FashionHowClient({ endpoint: server.graphqlUrl, token: trainer });
    const phases: string[] = [];
    const first = await client.uploadDataset(path.dirname(synthetic.csvPath), { name: 'uploaded', validationFraction: 0.2 }, (p) => phases.push(p.phase));
    expect(first).toMatchObject({ created: true, itemCount: 30, dataset: { name: 'uploaded', version: 1, parent: null } });
    expect(first.dataset.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(phases).toContain('VALIDATE');
    expect(phases.at(-1)).toBe('DONE');
    // The photos are in the store under their sha256, and the dataset no longer needs any folder.
    const items = await app.services.db.item.findMany({ where: { datasetId: Number(first.dataset.id) }, orderBy: { line: 'asc' } });
    const csvRows = naiveCsv(await readFile(synthetic.csvPath, 'utf8'));
    expect(items.map((i) => i.imagePath)).toEqual(csvRows.map((r) => r.image_name));
    const { createHash } = await import('node:crypto');
    for (const item of items.slice(0, 5)) {
      const original = await readFile(path.join(synthetic.imageRoot, item.imagePath));
      expect(item.imageSha256).toBe(createHash('sha256').update(original).digest('hex'));
    }
    expect((await leftovers()).scratch).toBe(0);
    const record = await app.services.db.dataset.findUniqueOrThrow({ where: { id: Number(first.dataset.id) } });
    expect(record).toMatchObject({ csvPath: 'upload:synth.tar#train.csv', imageRoot: '' }); // the folder's name, packed
    const crop = await fetch(`${server.url}/items/${items[0]!.id}/crop.jpg`);
    expect(crop.status).toBe(200);

    const again = await client.uploadDataset(path.dirname(synthetic.csvPath), { name: 'uploaded', validationFraction: 0.2 });
    expect(again).toMatchObject({ created: false, dataset: { id: first.dataset.id, digest: first.dataset.digest } });
  }, 120_000);

  it('makes changed content under the same name version 2, its parent the first', async () => {
    const csv = await readFile(synthetic.csvPath, 'utf8');
    const lines = csv.trim().split('\n');
    const cells = lines[1]!.split(',');
    cells[cells.length - 1] = String((Number(cells.at(-1)) + 1) % 3); // one Embellishment label changed
    lines[1] = cells.join(',');
    const changed = await upload(await tarArchive(await datasetEntries(`${lines.join('\n')}\n`)), { name: 'versioned' });
    expect(changed.errors).toBeUndefined();
    const original = await upload(await tarArchive(await datasetEntries()), { name: 'versioned' });
    const v1 = changed.data!.uploadDataset.dataset;
    const v2 = original.data!.uploadDataset.dataset;
    expect(v1).toMatchObject({ version: 1 });
    expect(v2).toMatchObject({ version: 2, parent: { id: v1.id } });
    expect(v2.digest).not.toBe(v1.digest);
  }, 120_000);

  it('takes one upload at a time per client (FASHION_HOW_MAX_CLIENT_IMPORTS), while other clients upload', async () => {
    const archive = await tarArchive(await datasetEntries());
    const other = (await app.services.tokens.create('another uploader', 'trainer')).token;
    const [first, second, theirs] = await Promise.all([
      upload(archive, { name: 'racing', validationFraction: 0.35 }),
      upload(archive, { name: 'racing', validationFraction: 0.45 }),
      upload(archive, { name: 'theirs', validationFraction: 0.5 }, other),
    ]);
    const answers = [first, second];
    const refused = answers.filter((a) => a.errors?.[0]?.extensions?.code === 'RATE_LIMITED');
    expect(refused).toHaveLength(1);
    expect(refused[0]!.errors![0]!.message).toMatch(/1 uploads or bucket imports in flight, the limit is 1 \(FASHION_HOW_MAX_CLIENT_IMPORTS\)/);
    expect(refused[0]!.status).toBe(429);
    expect(answers.filter((a) => a.data?.uploadDataset?.created)).toHaveLength(1);
    expect(theirs.data?.uploadDataset).toMatchObject({ created: true, itemCount: 30 });
    expect((await leftovers()).scratch).toBe(0);
  }, 120_000);

  it('imports from an allowed bucket prefix, with the schema inline', async () => {
    const entries = await datasetEntries();
    for (const entry of entries) await s3.writeObject(`team/shop-a/${entry.name}`, entry.data);
    const gql = graphqlClient(server.graphqlUrl, trainer);
    const schema = {
      name: 'renamed classes',
      tasks: [
        { name: 'Daily', classes: ['a', 'b', 'c', 'd', 'e', 'f', 'g'] },
        { name: 'Gender', classes: ['a', 'b', 'c', 'd', 'e', 'f'] },
        { name: 'Embellishment', classes: ['a', 'b', 'c'] },
      ],
    };
    const { data, errors } = await gql(IMPORT, { input: { bucket: 's3://datasets/team/shop-a', name: 'from a bucket', labelSchema: schema } });
    expect(errors).toBeUndefined();
    expect(data?.importDataset).toMatchObject({ created: true, itemCount: 30, dataset: { name: 'from a bucket', version: 1 } });
    const dataset = await app.services.db.dataset.findUniqueOrThrow({ where: { id: Number(data!.importDataset.dataset.id) }, include: { labelSchema: true } });
    expect(dataset.csvPath).toBe('s3://datasets/team/shop-a#train.csv');
    expect(dataset.imageRoot).toBe('');
    expect(dataset.labelSchema.name).toBe('renamed classes');
    expect((await leftovers()).scratch).toBe(0);
  }, 120_000);

  it('a bucket archive object imports like an upload', async () => {
    const client = new S3Client({
      endpoint: s3.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    });
    const archive = zipArchive((await datasetEntries()).map((e) => ({ ...e, deflate: true })));
    await client.send(new PutObjectCommand({ Bucket: 'datasets', Key: 'team/shop-b.zip', Body: archive }));
    client.destroy();
    const { data, errors } = await graphqlClient(server.graphqlUrl, trainer)(IMPORT, {
      input: { bucket: 's3://datasets/team/shop-b.zip', name: 'zipped', validationFraction: 0.3 },
    });
    expect(errors).toBeUndefined();
    expect(data?.importDataset).toMatchObject({ created: true, itemCount: 30 });
  }, 120_000);

  it('imports a CSV without the label columns as a prediction set from an upload and from a bucket', async () => {
    const unlabelled = naiveCsv(await readFile(synthetic.csvPath, 'utf8'))
      .map((r) => [r.image_name, r.BBox_xmin, r.BBox_ymin, r.BBox_xmax, r.BBox_ymax].join(','))
      .join('\n');
    const csv = `image_name,BBox_xmin,BBox_ymin,BBox_xmax,BBox_ymax\n${unlabelled}\n`;
    const uploaded = await upload(await tarArchive(await datasetEntries(csv)), { name: 'test photos' });
    expect(uploaded.errors).toBeUndefined();
    expect(uploaded.data?.uploadDataset).toMatchObject({ created: true, itemCount: 30 });
    for (const entry of await datasetEntries(csv)) await s3.writeObject(`team/test-photos/${entry.name}`, entry.data);
    const fromBucket = await graphqlClient(server.graphqlUrl, trainer)(
      `mutation($input: ImportDatasetInput!) { importDataset(input: $input) { itemCount dataset { id labelled splits { split count } } } }`,
      {
        input: { bucket: 's3://datasets/team/test-photos', name: 'test photos from a bucket' },
      },
    );
    expect(fromBucket.errors).toBeUndefined();
    expect(fromBucket.data?.importDataset).toMatchObject({ itemCount: 30, dataset: { labelled: false, splits: [{ split: 'TEST', count: 30 }] } });
    expect(await app.services.db.itemLabel.count({ where: { datasetId: Number(fromBucket.data!.importDataset.dataset.id) } })).toBe(0);
    // The same limits: a row whose bbox leaves its photo is refused by line, and nothing is stored.
    const before = await leftovers();
    const bad = await upload(await tarArchive(await datasetEntries(`${csv}${unlabelled.split('\n')[0]!.replace(/,\d+,\d+$/, ',9000,9000')}\n`)), {
      name: 'bad test photos',
    });
    expect(bad.errors?.[0]?.message).toMatch(/1 of 31 rows are invalid[\s\S]*line 32: bbox/);
    expect(await leftovers()).toEqual(before);
  }, 120_000);

  it('an admin imports a server folder under FASHION_HOW_IMPORT_ROOTS', async () => {
    const copy = path.join(scratch.dir, 'allowed', 'copy.csv');
    await writeFile(copy, await readFile(synthetic.csvPath));
    const { data, errors } = await graphqlClient(server.graphqlUrl, admin)(IMPORT, {
      input: { csvPath: copy, imageRoot: synthetic.imageRoot, name: 'server folder', validationFraction: 0.4 },
    });
    expect(errors).toBeUndefined();
    expect(data?.importDataset).toMatchObject({ created: true, itemCount: 30 });
    await rm(copy);
  });
});
