// The sampled prediction log against a real server: its share and its bound, the crops' hashes and
// statistics, drift over logged windows, feedback with an online report equal to evaluate, and
// retention. Every part writes and queries the log's rows, so it runs on both databases; the rest of
// the rollout (aliases, canaries, shadows, /v2) is in rollout.test.ts.
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { namedImages } from '../../src/data/photos.js';
import { PredictionLog } from '../../src/inference/predictionLog.js';
import { PendingObjects } from '../../src/storage/pendingObjects.js';
import {
  app,
  artifactA,
  classify,
  datasetId,
  image,
  imageRoot,
  LIMITS,
  LOG_QUEUE,
  MAX_IMAGES,
  reader,
  rows,
  scratch,
  server,
  setAlias,
  trainer,
  useRolloutServer,
} from './rolloutServer.js';

useRolloutServer('trained here');

describe('prediction log', () => {
  it('keeps the sampled share, with the crop hash and statistics an independent decoder gives', async () => {
    await setAlias({ name: 'logged', target: { artifactId: String(artifactA) }, logRate: 0.25 });
    const ids: string[] = [];
    const droppedBefore = app.services.predictionLog.counts.dropped;
    for (let r = 0; r < 50; r++) {
      const batch = rows.slice((r * 8) % 192, ((r * 8) % 192) + 8);
      const answer = await classify({ images: await Promise.all(batch.map(image)), model: 'logged' });
      ids.push(...answer.results.map((x) => x.predictionId).filter((id): id is string => id !== null));
      // The writer keeps up here (the next test floods it): the share is the sampler's, not the queue's.
      await app.services.predictionLog.flush();
    }
    expect(app.services.predictionLog.counts.dropped).toBe(droppedBefore);
    const logged = await app.services.db.prediction.findMany({ where: { alias: 'logged' } });
    // 400 images at 0.25: 100 expected, 3 standard deviations is 26.
    expect(logged.length).toBeGreaterThanOrEqual(74);
    expect(logged.length).toBeLessThanOrEqual(126);
    expect(new Set(logged.map((l) => l.id))).toEqual(new Set(ids));
    const row = logged[0]!;
    const logged0 = row.bbox as { xmin: number; ymin: number; xmax: number; ymax: number };
    const source = rows.find(
      (r) => r.bbox.xmin === logged0.xmin && r.bbox.ymin === logged0.ymin && r.bbox.xmax === logged0.xmax && r.bbox.ymax === logged0.ymax,
    )!;
    const bbox = source.bbox;
    // By hand: the whole photo decoded, the box's pixels summed here.
    const { data: pixels, info } = await sharp(path.join(imageRoot, source.imageName)).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const sums = [0, 0, 0];
    const crop: number[] = [];
    for (let y = bbox.ymin; y < bbox.ymax; y++) {
      for (let x = bbox.xmin; x < bbox.xmax; x++) {
        for (let c = 0; c < 3; c++) {
          const value = pixels[(y * info.width + x) * 3 + c]!;
          sums[c]! += value;
          crop.push(value);
        }
      }
    }
    const means = sums.map((sum) => sum / (crop.length / 3));
    const stats = row.stats as Record<string, number>;
    expect(stats.red).toBeCloseTo(means[0]!, 9);
    expect(stats.green).toBeCloseTo(means[1]!, 9);
    expect(stats.blue).toBeCloseTo(means[2]!, 9);
    expect(stats.brightness).toBeCloseTo(0.299 * means[0]! + 0.587 * means[1]! + 0.114 * means[2]!, 9);
    expect(stats.aspect).toBeCloseTo((bbox.xmax - bbox.xmin) / (bbox.ymax - bbox.ymin), 12);
    expect(row.cropSha256).toBe(createHash('sha256').update(Uint8Array.from(crop)).digest('hex'));
    // Crops are kept (FASHION_HOW_PREDICTION_LOG_CROPS): a JPEG in the artifact store.
    expect((await sharp(await app.services.artifactStore.fetch(row.cropKey!, 'image')).metadata()).format).toBe('jpeg');
    const status = await reader('{ predictionLog { capacity logged dropped rows keepCrops } }');
    expect(status.data?.predictionLog).toMatchObject({ capacity: LOG_QUEUE, keepCrops: true });
    // A reader may not read the log: it names clients.
    expect((await reader(`{ predictions(alias: "logged") { id } }`)).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const listed = await trainer(`{ predictions(alias: "logged", first: 500) { id role client model { kind id } tasks { task predicted { name } label } } }`);
    expect(listed.data?.predictions).toHaveLength(logged.length);
    expect(listed.data?.predictions[0]).toMatchObject({ role: 'CHAMPION', model: { kind: 'ARTIFACT', id: String(artifactA) } });
  }, 120_000);

  it('drops and counts what is beyond its bound without failing or slowing a request', async () => {
    await setAlias({ name: 'flooded', target: { artifactId: String(artifactA) }, logRate: 1 });
    const droppedBefore = app.services.predictionLog.counts.dropped;
    // One request of 16 images at rate 1 offers 16 records at once to a queue of 8.
    const answer = await classify({ images: await Promise.all(rows.slice(0, MAX_IMAGES).map(image)), model: 'flooded' });
    expect(answer.results).toHaveLength(MAX_IMAGES);
    const kept = answer.results.filter((r) => r.predictionId !== null);
    expect(kept).toHaveLength(LOG_QUEUE);
    await app.services.predictionLog.flush();
    expect(app.services.predictionLog.counts.dropped - droppedBefore).toBe(MAX_IMAGES - LOG_QUEUE);
    expect(await app.services.db.prediction.count({ where: { alias: 'flooded' } })).toBe(LOG_QUEUE);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toContain(`fashion_how_prediction_log_records_total{alias="flooded",outcome="dropped"} ${MAX_IMAGES - LOG_QUEUE}`);
    expect(metrics).toContain(`fashion_how_prediction_log_records_total{alias="flooded",outcome="logged"} ${LOG_QUEUE}`);
  });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Classifies stored items through an alias, 8 at a time (the log's queue holds 8), and returns the logged ids. */
async function classifyItems(itemIds: number[], model: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < itemIds.length; i += LOG_QUEUE) {
    const answer = await classify({ images: itemIds.slice(i, i + LOG_QUEUE).map((id) => ({ itemId: String(id) })), model });
    ids.push(...answer.results.map((r) => r.predictionId!));
    await app.services.predictionLog.flush();
  }
  return ids;
}

describe('drift', () => {
  it('flags a window of darkened photos and not a window drawn from the training split', async () => {
    const { db } = app.services;
    await setAlias({ name: 'watched', target: { artifactId: String(artifactA) }, logRate: 1 });
    const train = await db.item.findMany({ where: { datasetId, split: 'TRAIN' }, orderBy: { id: 'asc' } });
    expect(train).toHaveLength(140);
    // The reference is every other TRAIN item (70 of 140); the window is the others.
    const window = train.filter((_, i) => i % 2 === 1);
    const t0 = new Date();
    await sleep(5);
    await classifyItems(
      window.map((item) => item.id),
      'watched',
    );
    await sleep(5);
    const t1 = new Date();
    await sleep(5);
    for (let i = 0; i < window.length; i += LOG_QUEUE) {
      const images = await Promise.all(
        window.slice(i, i + LOG_QUEUE).map(async (item) => ({
          image: (await sharp(path.join(imageRoot, item.imagePath)).linear(0.4, 0).jpeg({ quality: 95 }).toBuffer()).toString('base64'),
          bbox: { xmin: item.xmin, ymin: item.ymin, xmax: item.xmax, ymax: item.ymax },
        })),
      );
      await classify({ images, model: 'watched' });
      await app.services.predictionLog.flush();
    }
    await sleep(5);
    const t2 = new Date();
    const CHECK = `mutation($input: CheckDriftInput!) { checkDrift(input: $input) { id count drifted enough referenceItems datasetVersion model { id }
      tasks { task psi pValue drifted reference window } inputs { statistic psi ks pValue drifted referenceMean windowMean } pValueThreshold } }`;
    const same = (await trainer(CHECK, { input: { alias: 'watched', from: t0.toISOString(), to: t1.toISOString() } })).data!.checkDrift;
    expect(same).toMatchObject({ count: 70, enough: true, referenceItems: 70, drifted: false, model: { id: String(artifactA) } });
    expect(same.pValueThreshold).toBeCloseTo(0.01 / 10, 12);
    const dark = (await trainer(CHECK, { input: { alias: 'watched', from: t1.toISOString(), to: t2.toISOString() } })).data!.checkDrift;
    expect(dark).toMatchObject({ count: 70, drifted: true });
    const brightness = dark.inputs.find((i: { statistic: string }) => i.statistic === 'brightness');
    expect(brightness.drifted).toBe(true);
    expect(brightness.windowMean).toBeLessThan(0.5 * brightness.referenceMean);
    // The window's mean is the mean of what the log stored for it.
    const stored = await db.prediction.findMany({ where: { alias: 'watched', createdAt: { gte: t1, lt: t2 } } });
    const meanBrightness = stored.reduce((s, p) => s + (p.stats as { brightness: number }).brightness, 0) / stored.length;
    expect(brightness.windowMean).toBeCloseTo(meanBrightness, 9);
    // The box did not change, so its aspect did not drift.
    expect(dark.inputs.find((i: { statistic: string }) => i.statistic === 'aspect').drifted).toBe(false);

    const listed = await reader(`{ driftReports(alias: "watched") { id drifted } alias(name: "watched") { latestDrift { id } } }`);
    expect(listed.data?.driftReports).toEqual([
      { id: dark.id, drifted: true },
      { id: same.id, drifted: false },
    ]);
    expect(listed.data?.alias.latestDrift.id).toBe(dark.id);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toContain('fashion_how_drift_detected{alias="watched"} 1');
    expect(metrics).toMatch(/fashion_how_drift_psi\{alias="watched",feature="input:brightness"\} [0-9.]+/);
    // A report stored by another process (another replica, a cron job's `fashion-how drift`) is what /metrics shows next.
    const darkRow = await db.driftReport.findUniqueOrThrow({ where: { id: Number(dark.id) } });
    const { id: _darkId, ...copy } = darkRow;
    await db.driftReport.create({ data: { ...copy, drifted: false, body: copy.body as object } });
    expect(await (await fetch(`${server.url}/metrics`)).text()).toContain('fashion_how_drift_detected{alias="watched"} 0');
    // A timeline's window over the same span is the same report, not stored.
    const timeline = await trainer(`query($input: DriftTimelineInput!) { driftTimeline(input: $input) { id count drifted inputs { psi } } }`, {
      input: { alias: 'watched', from: t0.toISOString(), to: t1.toISOString(), buckets: 1 },
    });
    expect(timeline.data?.driftTimeline).toEqual([{ id: null, count: 70, drifted: false, inputs: same.inputs.map((i: { psi: number }) => ({ psi: i.psi })) }]);
  }, 180_000);
});

describe('feedback', () => {
  it('gives an online report equal to evaluate on the same items', async () => {
    const { db } = app.services;
    await setAlias({ name: 'labelled', target: { artifactId: String(artifactA) }, logRate: 1 });
    const items = await db.item.findMany({ where: { datasetId, split: 'TEST' }, include: { labels: { orderBy: { task: 'asc' } } }, orderBy: { id: 'asc' } });
    const dataset = await app.services.datasets.get(datasetId);
    const { tasks } = await app.services.datasets.labelSchema(dataset.labelSchemaId);
    const ids = await classifyItems(
      items.map((item) => item.id),
      'labelled',
    );
    const FEEDBACK = `mutation($id: ID!, $labels: [TaskLabelInput!]!) { submitFeedback(predictionId: $id, labels: $labels) { id labelledAt tasks { task label } } }`;
    const labelsOf = (item: (typeof items)[number]) => tasks.map((task, t) => ({ task: task.name, label: task.classes[item.labels[t]!.classIndex]! }));
    for (const [i, item] of items.entries()) {
      const { data, errors } = await trainer(FEEDBACK, { id: ids[i], labels: labelsOf(item) });
      expect(errors).toBeUndefined();
      expect(data?.submitFeedback.tasks.map((t: { label: string }) => t.label)).toEqual(labelsOf(item).map((l) => l.label));
    }
    const wrong = await trainer(FEEDBACK, { id: ids[0], labels: [{ task: tasks[0]!.name, label: 'nonsense' }] });
    expect(wrong.errors?.[0]?.message).toContain(`"nonsense" is not a class of ${tasks[0]!.name}; its classes are ${tasks[0]!.classes.join(', ')}`);
    expect((await trainer(FEEDBACK, { id: ids[0], labels: labelsOf(items[0]!).slice(1) })).errors?.[0]?.message).toMatch(/a label for every task/);
    expect((await trainer(FEEDBACK, { id: 'no-such-id', labels: labelsOf(items[0]!) })).errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
    expect((await reader(FEEDBACK, { id: ids[0], labels: labelsOf(items[0]!) })).errors?.[0]?.extensions?.code).toBe('FORBIDDEN');

    const report = await app.services.evaluation.evaluate({ artifactId: artifactA, datasetId, split: 'TEST' });
    const FIELDS = 'meanTop1 meanAcsa details { name itemCount top1 acsa macroF1 mcc kappa nll brier ece classes { index support recall precision f1 } }';
    const evaluatedAnswer = await reader(`{ report(id: "${report.id}") { ${FIELDS} } }`);
    expect(evaluatedAnswer.errors).toBeUndefined();
    const evaluated = evaluatedAnswer.data!.report;
    const online = (
      await trainer(`query($input: OnlineReportInput!) { onlineReport(input: $input) { count ${FIELDS} models { role count model { id } meanAcsa } } }`, {
        input: { alias: 'labelled' },
      })
    ).data!.onlineReport;
    expect(online.count).toBe(items.length);
    expect(online.models).toEqual([{ role: 'CHAMPION', count: items.length, model: { id: String(artifactA) }, meanAcsa: online.meanAcsa }]);
    const close = (a: unknown, b: unknown): void => {
      if (typeof a === 'number') expect(a).toBeCloseTo(b as number, 6);
      else if (Array.isArray(a)) for (const [i, x] of a.entries()) close(x, (b as unknown[])[i]);
      else if (a && typeof a === 'object') for (const key of Object.keys(a)) close((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]);
      else expect(a).toEqual(b);
    };
    const { count: _count, models: _models, ...metrics } = online;
    close(metrics, evaluated);
    expect(Object.keys(metrics).sort()).toEqual(Object.keys(evaluated).sort());
    // Bootstrap intervals resample in item order, which a log does not share with a split: they bracket the same estimate.
    const intervals = (
      await trainer(`query($input: OnlineReportInput!) { onlineReport(input: $input) { details { top1 top1Interval { low high } } } }`, {
        input: { alias: 'labelled' },
      })
    ).data!.onlineReport.details;
    for (const d of intervals) {
      expect(d.top1Interval.low).toBeLessThanOrEqual(d.top1);
      expect(d.top1Interval.high).toBeGreaterThanOrEqual(d.top1);
    }
  }, 120_000);
});

describe('the log queue', () => {
  it('is bounded by the photos it holds as well as by records', async () => {
    const log = new PredictionLog(
      app.services.db,
      app.services.artifactStore,
      { queue: 100, queueBytes: 1500, maxAgeDays: 7, maxRows: 100_000, keepCrops: false },
      {
        imageLimits: LIMITS,
        scratchDir: scratch.dir,
        metrics: app.services.metrics,
        log: app.log,
      },
    );
    const photo = await readFile(path.join(imageRoot, rows[0]!.imageName));
    expect(photo.length).toBeGreaterThan(750);
    const record = (id: string) => ({
      id,
      alias: 'bytes',
      role: 'CHAMPION' as const,
      target: { kind: 'artifact' as const, id: artifactA, name: 'a', labelSchemaId: 1 },
      client: 'test',
      image: photo.subarray(0, 1000),
      bbox: rows[0]!.bbox,
      tasks: [],
      latencyMs: 1,
      at: new Date(),
    });
    expect([log.offer(record('bytes-1')), log.offer(record('bytes-2'))]).toEqual([true, false]);
    expect(log.counts.dropped).toBe(1);
    await log.flush();
    log.close();
  });
});

describe('retention', () => {
  it('applies retention by age and by row count', async () => {
    const { db } = app.services;
    const log = new PredictionLog(
      db,
      app.services.artifactStore,
      { queue: 4, queueBytes: 2 ** 20, maxAgeDays: 7, maxRows: 5, keepCrops: false },
      {
        imageLimits: LIMITS,
        scratchDir: scratch.dir,
        metrics: app.services.metrics,
        log: app.log,
      },
    );
    const base = await db.prediction.findFirstOrThrow({ where: { alias: 'logged' } });
    const { id: _id, ...fields } = base;
    await db.prediction.createMany({
      data: Array.from({ length: 3 }, (_, i) => ({
        ...fields,
        id: `old-${i}`,
        alias: 'retention',
        createdAt: new Date(Date.now() - (8 + i) * 86_400_000),
      })) as never,
    });
    const before = await db.prediction.findMany({ orderBy: [{ createdAt: 'asc' }, { id: 'asc' }], select: { id: true } });
    await log.prune();
    expect(await db.prediction.count({ where: { alias: 'retention' } })).toBe(0);
    const after = await db.prediction.findMany({ orderBy: [{ createdAt: 'asc' }, { id: 'asc' }], select: { id: true } });
    expect(after.map((a) => a.id)).toEqual(
      before
        .map((b) => b.id)
        .filter((id) => !id.startsWith('old-'))
        .slice(-5),
    );
  });

  it("hands the pruned rows' crops to the collection: a crop no row names goes, one a kept row names stays", async () => {
    const { db, artifactStore } = app.services;
    const pending = new PendingObjects(path.join(scratch.dir, 'pending-retention'));
    const log = new PredictionLog(
      db,
      artifactStore,
      { queue: 4, queueBytes: 2 ** 20, maxAgeDays: 7, maxRows: 100_000, keepCrops: false },
      { imageLimits: LIMITS, scratchDir: scratch.dir, metrics: app.services.metrics, log: app.log, pending },
    );
    // Two crops in the store: one named only by an old row, one by an old row and a recent one.
    const stored = await Promise.all(
      ['only old', 'old and recent'].map(async (text, i) => {
        const file = path.join(scratch.dir, `retention-crop-${i}.jpg`);
        await writeFile(file, `a crop: ${text} ${Date.now()}`);
        return (await artifactStore.put(file, 'image')).sha256;
      }),
    );
    const [onlyOld, shared] = stored as [string, string];
    // Any logged row as a template (the test above pruned all but five).
    const base = await db.prediction.findFirstOrThrow();
    const { id: _id, ...fields } = base;
    const old = new Date(Date.now() - 9 * 86_400_000);
    await db.prediction.createMany({
      data: [
        { ...fields, id: 'crop-old-1', alias: 'crops', cropKey: onlyOld, createdAt: old },
        { ...fields, id: 'crop-old-2', alias: 'crops', cropKey: shared, createdAt: old },
        { ...fields, id: 'crop-recent', alias: 'crops', cropKey: shared, createdAt: new Date() },
      ] as never,
    });
    await log.prune();
    expect((await db.prediction.findMany({ where: { alias: 'crops' }, select: { id: true } })).map((r) => r.id)).toEqual(['crop-recent']);
    // Within the grace period nothing is deleted; after it, what no row names.
    expect(await pending.collect(artifactStore, namedImages(db), 3_600_000)).toEqual([]);
    expect(await pending.collect(artifactStore, namedImages(db), 0)).toEqual([{ kind: 'image', sha256: onlyOld }]);
    expect([await artifactStore.has(onlyOld, 'image'), await artifactStore.has(shared, 'image')]).toEqual([false, true]);
    log.close();
  });
});
