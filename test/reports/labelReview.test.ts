// The items behind the numbers and the label finder, through GraphQL against a real server: a report's
// predictions filtered to a confusion cell are the cell's items, the dataset's items filtered as the
// database holds them, classify by item id answers as classify with the photo's bytes, and a
// confident-learning scan of a model trained on flipped labels finds the flips; a review applied makes
// a new version of the dataset with the relabels and without the excluded items.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningServer, startServer } from '../../src/api/server.js';
import type { App } from '../../src/app.js';
import { importDataset } from '../../src/data/import.js';
import { writeSyntheticDataset } from '../../src/data/synth.js';
import { runCli } from '../fixtures/cli.js';
import { graphqlClient, openTestApp, testDatabaseUrl, useScratchDir } from '../helpers.js';

const scratch = useScratchDir();
let app: App;
let server: RunningServer;
let gql: ReturnType<typeof graphqlClient>;
let reader: ReturnType<typeof graphqlClient>;
let datasetId: number;
let artifactId: number;
let reportId: number;
/** Known flips by CSV line (line 2 is row 0): the task and the clean class. */
let flips: Map<number, { task: number; clean: number }[]>;

const NOISE = 0.1;

beforeAll(async () => {
  app = await openTestApp(path.join(scratch.dir, 'data'));
  server = await startServer(app);
  gql = graphqlClient(server.graphqlUrl, (await app.services.tokens.create('labels test', 'trainer')).token);
  reader = graphqlClient(server.graphqlUrl, (await app.services.tokens.create('labels reader', 'reader')).token);
  // The standard difficulty, learnt well in seconds (Daily is the garment's colour), with 10 % flipped labels.
  const synthetic = await writeSyntheticDataset({ out: path.join(scratch.dir, 'synth'), count: 360, seed: 5, minSide: 64, maxSide: 96, labelNoise: NOISE });
  ({ datasetId } = await importDataset(
    { csvPath: synthetic.csvPath, imageRoot: synthetic.imageRoot, validationFraction: 0.15, testFraction: 0.35 },
    app.services.importContext,
  ));
  const known = JSON.parse(await readFile(path.join(scratch.dir, 'synth', 'synth.json'), 'utf8')) as {
    flipped: { row: number; task: number; clean: number }[];
  };
  flips = new Map();
  for (const f of known.flipped) flips.set(f.row + 2, [...(flips.get(f.row + 2) ?? []), { task: f.task, clean: f.clean }]);
  const [run] = await app.services.training.startTraining({
    datasetId,
    combos: [{ backbone: 'resnet18', head: 'feedforward' }],
    options: { imageSize: 32, epochs: 8, batchSize: 16, hiddenSize: 32, cutmix: 'off', dataLoaderWorkers: 0, pretrained: 'none', learningRate: 3e-3, seed: 3 },
  });
  await app.services.training.waitFor([run!.id]);
  const done = await app.services.training.get(run!.id);
  expect(done.status, done.error ?? '').toBe('SUCCEEDED');
  artifactId = (await app.services.db.modelArtifact.findUniqueOrThrow({ where: { runId: run!.id } })).id;
  reportId = (await app.services.evaluation.evaluate({ artifactId, datasetId, split: 'TEST' })).id;
}, 600_000);
afterAll(async () => {
  await server?.close();
  await app?.close();
});

const PREDICTIONS = `query($id: ID!, $task: Int!, $trueClass: Int, $predictedClass: Int, $correct: Boolean, $orderBy: PredictionOrder, $first: Int, $after: String) {
  report(id: $id) { predictions(task: $task, trueClass: $trueClass, predictedClass: $predictedClass, correct: $correct, orderBy: $orderBy, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { item { id split labels { task classIndex } } truth { index probability } predicted { index probability } correct loss } } } } }`;

describe('the items behind a report', () => {
  it("pages a confusion cell's items: exactly those the stored matrix counts there, in the order asked", async () => {
    const matrices = await app.services.db.confusionMatrix.findMany({ where: { reportId }, orderBy: { task: 'asc' } });
    for (const matrix of matrices) {
      const rows = matrix.rows as number[][];
      for (const [i, row] of rows.entries()) {
        for (const [j, count] of row.entries()) {
          if (count === 0) continue;
          const seen: {
            item: { id: string; labels: { task: number; classIndex: number }[] };
            truth: { index: number };
            predicted: { index: number; probability: number };
          }[] = [];
          let after: string | undefined;
          for (;;) {
            const { data, errors } = await reader(PREDICTIONS, { id: String(reportId), task: matrix.task, trueClass: i, predictedClass: j, first: 7, after });
            expect(errors).toBeUndefined();
            const page = data!.report.predictions;
            expect(page.totalCount).toBe(count);
            seen.push(...page.edges.map((e: { node: (typeof seen)[number] }) => e.node));
            if (!page.pageInfo.hasNextPage) break;
            after = page.pageInfo.endCursor;
          }
          expect(seen).toHaveLength(count);
          expect(new Set(seen.map((s) => s.item.id)).size).toBe(count);
          for (const s of seen) {
            expect([s.truth.index, s.predicted.index]).toEqual([i, j]);
            // The true class is the item's stored label.
            expect(s.item.labels.find((l) => l.task === matrix.task)!.classIndex).toBe(i);
          }
          const confidences = seen.map((s) => s.predicted.probability);
          expect(confidences).toEqual([...confidences].sort((a, b) => b - a));
        }
      }
    }
  });

  it('sorts by loss (-ln of the true class probability) and filters the wrong ones', async () => {
    const { data } = await reader(PREDICTIONS, { id: String(reportId), task: 0, correct: false, orderBy: 'LOSS_DESC', first: 100 });
    const nodes = data!.report.predictions.edges.map((e: { node: { correct: boolean; loss: number; truth: { probability: number } } }) => e.node);
    const wrong = await app.services.db.reportPrediction.findMany({ where: { reportId, task: 0 } });
    expect(nodes).toHaveLength(Math.min(100, wrong.filter((w) => w.trueClass !== w.predictedClass).length));
    for (const n of nodes) {
      expect(n.correct).toBe(false);
      expect(n.loss).toBeCloseTo(-Math.log(n.truth.probability), 9);
    }
    const losses = nodes.map((n: { loss: number }) => n.loss);
    expect(losses).toEqual([...losses].sort((a: number, b: number) => b - a));
  });
});

describe('the dataset browser', () => {
  const ITEMS = `query($id: ID!, $filter: ItemFilter, $first: Int, $after: String) { dataset(id: $id) { items(filter: $filter, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } edges { node { id line split bbox { xmin ymin xmax ymax } labels { task classIndex className } cropUrl } } } } }`;

  it('returns the items the database holds for a split, a class per task and a bbox size, in line order', async () => {
    const filter = { split: 'TRAIN', labels: [{ task: 0, classIndex: 1 }], minBboxSide: 30, maxBboxSide: 60 };
    const ids: string[] = [];
    let after: string | undefined;
    for (;;) {
      const { data, errors } = await reader(ITEMS, { id: String(datasetId), filter, first: 5, after });
      expect(errors).toBeUndefined();
      const page = data!.dataset.items;
      ids.push(...page.edges.map((e: { node: { id: string } }) => e.node.id));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    // Independently: every item of the dataset, filtered here.
    const all = await app.services.db.item.findMany({ where: { datasetId }, include: { labels: true }, orderBy: { line: 'asc' } });
    const expected = all
      .filter((i) => i.split === 'TRAIN' && i.labels.some((l) => l.task === 0 && l.classIndex === 1))
      .filter((i) => Math.min(i.xmax - i.xmin, i.ymax - i.ymin) >= 30 && Math.min(i.xmax - i.xmin, i.ymax - i.ymin) <= 60)
      .map((i) => String(i.id));
    expect(expected.length).toBeGreaterThan(0);
    expect(ids).toEqual(expected);
  });

  it("serves an item's crop and photo, and lists every stored prediction of it", async () => {
    const prediction = await app.services.db.reportPrediction.findFirstOrThrow({ where: { reportId } });
    const { data } = await reader(
      `query($id: ID!) { item(id: $id) { id cropUrl photoUrl predictions { report { id } model task correct predicted { index } truth { index } } } }`,
      {
        id: String(prediction.itemId),
      },
    );
    const item = data!.item;
    expect(item.predictions.filter((p: { report: { id: string } }) => p.report.id === String(reportId))).toHaveLength(3);
    const stored = await app.services.db.reportPrediction.findMany({ where: { itemId: prediction.itemId } });
    expect(item.predictions).toHaveLength(stored.length);
    for (const url of [item.cropUrl, item.photoUrl]) {
      const response = await fetch(new URL(url, server.url), {
        headers: { authorization: `Bearer ${(await app.services.tokens.create('img', 'reader')).token}` },
      });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('image/jpeg');
    }
    const missing = await reader(`query { item(id: "999999") { id } }`);
    expect(missing.errors?.[0]).toMatchObject({ message: 'item 999999 does not exist', extensions: { code: 'NOT_FOUND' } });
  });

  it('classifies an item by its id as classify does with its photo and box', async () => {
    const item = await app.services.db.item.findFirstOrThrow({ where: { datasetId, split: 'TEST' }, include: { dataset: true } });
    const CLASSIFY = `query($input: ClassifyInput!) { classify(input: $input) { results { tasks { task distribution { probability } } } } }`;
    const byId = await reader(CLASSIFY, { input: { artifactId: String(artifactId), images: [{ itemId: String(item.id) }] } });
    const bytes = await readFile(path.join(item.dataset.imageRoot, item.imagePath));
    const bbox = { xmin: item.xmin, ymin: item.ymin, xmax: item.xmax, ymax: item.ymax };
    const byBytes = await reader(CLASSIFY, { input: { artifactId: String(artifactId), images: [{ image: bytes.toString('base64'), bbox }] } });
    expect(byId.errors).toBeUndefined();
    expect(byId.data!.classify).toEqual(byBytes.data!.classify);
    const both = await reader(CLASSIFY, { input: { artifactId: String(artifactId), images: [{ itemId: String(item.id), image: 'AAAA' }] } });
    expect(both.errors?.[0]?.message).toBe('images[0]: give image, file or itemId, exactly one');
    const noBox = await reader(CLASSIFY, { input: { artifactId: String(artifactId), images: [{ image: bytes.toString('base64') }] } });
    expect(noBox.errors?.[0]?.message).toBe('images[0]: bbox is required with image or file');
  });
});

describe('likely mislabels', () => {
  let scanId: string;

  it('finds the flipped labels of the held-out split: most suspects are flips, most flips are found', async () => {
    const { data, errors } = await gql(
      `mutation($input: FindLabelIssuesInput!) { findLabelIssues(input: $input) { id itemCount source tasks { task issueCount thresholds confidentJoint } } }`,
      { input: { datasetId: String(datasetId), artifactId: String(artifactId), split: 'TEST' } },
    );
    expect(errors).toBeUndefined();
    const scan = data!.findLabelIssues;
    scanId = scan.id;
    const testItems = await app.services.db.item.findMany({ where: { datasetId, split: 'TEST' } });
    expect(scan.itemCount).toBe(testItems.length);
    expect(scan.source).toBe(`artifact ${artifactId} on TEST`);
    // Daily (the colour, learnt almost perfectly): the finder's suspects are the flips.
    const lineOf = new Map(testItems.map((i) => [i.id, i.line]));
    const issues = await app.services.db.labelIssue.findMany({ where: { scanId: Number(scanId), task: 0 } });
    expect(issues.length).toBe(scan.tasks[0].issueCount);
    const isFlip = (itemId: number) => (flips.get(lineOf.get(itemId)!) ?? []).some((f) => f.task === 0);
    const flipsHere = testItems.filter((i) => isFlip(i.id)).length;
    const hits = issues.filter((i) => isFlip(i.itemId)).length;
    // Bounds: ~126 TEST items, ~12 Daily flips, a model at about 0.9 top-1 on the given labels. A flip
    // is flagged only when the model's probability of the clean class reaches that class's threshold
    // (its mean over the items labelled with it) while the given class's stays under its own: confident
    // learning is built to be precise rather than exhaustive, so most suspects must be flips (>= 0.8)
    // and at least half of the flips must be found (a finder no better than the model's own mistakes,
    // about 0.1 of the items, would have precision near the flip rate's share of them, under 0.5).
    expect(hits / Math.max(1, issues.length)).toBeGreaterThanOrEqual(0.8);
    expect(hits / Math.max(1, flipsHere)).toBeGreaterThanOrEqual(0.5);
    // A found flip's suggested class is the clean one.
    for (const issue of issues.filter((i) => isFlip(i.itemId))) {
      expect(issue.suggestedClass).toBe(flips.get(lineOf.get(issue.itemId)!)!.find((f) => f.task === 0)!.clean);
    }
    // Ranked by self-confidence, lowest first.
    const ranked = [...issues].sort((a, b) => a.rank - b.rank).map((i) => i.selfConfidence);
    expect(ranked).toEqual([...ranked].sort((a, b) => a - b));
  });

  it('refuses a model on the split it trained on, and a trainer-only mutation to a reader', async () => {
    const train = await gql(`mutation($input: FindLabelIssuesInput!) { findLabelIssues(input: $input) { id } }`, {
      input: { datasetId: String(datasetId), artifactId: String(artifactId), split: 'TRAIN' },
    });
    expect(train.errors?.[0]?.message).toMatch(/^the model trained on dataset \d+'s TRAIN split: its probabilities there are not out of sample/);
    const denied = await reader(`mutation($input: FindLabelIssuesInput!) { findLabelIssues(input: $input) { id } }`, {
      input: { datasetId: String(datasetId), artifactId: String(artifactId) },
    });
    expect(denied.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('makes a reviewed version: relabels applied, excluded items left out, the rest as they were', async () => {
    const issues = await app.services.db.labelIssue.findMany({ where: { scanId: Number(scanId) }, orderBy: [{ task: 'asc' }, { rank: 'asc' }] });
    expect(issues.length).toBeGreaterThanOrEqual(2);
    const [excluded, ...rest] = issues;
    const REVIEW = `mutation($id: ID!, $decision: LabelDecision!, $classIndex: Int) { reviewLabelIssue(id: $id, decision: $decision, classIndex: $classIndex) { id decision relabelTo } }`;
    expect((await gql(REVIEW, { id: String(excluded!.id), decision: 'EXCLUDE' })).data!.reviewLabelIssue.decision).toBe('EXCLUDE');
    const relabelled = await gql(`mutation($scan: ID!) { reviewLabelIssues(scanId: $scan, decision: RELABEL) }`, { scan: scanId });
    expect(relabelled.data!.reviewLabelIssues).toBe(rest.length);
    const bad = await gql(REVIEW, { id: String(rest[0]!.id), decision: 'RELABEL', classIndex: 99 });
    expect(bad.errors?.[0]?.message).toMatch(/^classIndex for \w+ must be from 0 to \d+, got 99$/);

    const applied = await gql(`mutation($scan: ID!) { applyLabelReview(scanId: $scan) { id name version itemCount parent { id } } }`, { scan: scanId });
    expect(applied.errors).toBeUndefined();
    const version = applied.data!.applyLabelReview;
    const parent = await app.services.db.dataset.findUniqueOrThrow({ where: { id: datasetId } });
    expect(version).toMatchObject({ version: 2, parent: { id: String(datasetId) }, itemCount: parent.itemCount - 1, name: `${parent.name} v2` });
    // Item by item, by CSV line: the same splits and boxes; the relabels applied; the excluded one gone.
    const before = await app.services.db.item.findMany({ where: { datasetId }, include: { labels: true } });
    const after = await app.services.db.item.findMany({ where: { datasetId: Number(version.id) }, include: { labels: true } });
    const afterByLine = new Map(after.map((i) => [i.line, i]));
    for (const item of before) {
      const copy = afterByLine.get(item.line);
      if (item.id === excluded!.itemId) {
        expect(copy).toBeUndefined();
        continue;
      }
      expect(copy).toMatchObject({ split: item.split, imagePath: item.imagePath, xmin: item.xmin, ymax: item.ymax });
      for (const label of item.labels) {
        const change = rest.find((r) => r.itemId === item.id && r.task === label.task);
        expect(copy!.labels.find((l) => l.task === label.task)!.classIndex).toBe(change ? change.suggestedClass : label.classIndex);
      }
    }
    // Once per scan, and its decisions are final.
    const again = await gql(`mutation($scan: ID!) { applyLabelReview(scanId: $scan) { id } }`, { scan: scanId });
    expect(again.errors?.[0]?.message).toBe(`scan ${scanId} was already applied as dataset ${version.id}`);
    expect((await gql(REVIEW, { id: String(rest[0]!.id), decision: 'KEEP' })).errors?.[0]?.message).toMatch(/its decisions are final/);
    // The version's class distribution counts its own labels.
    const distribution = await reader(`query($id: ID!) { dataset(id: $id) { distribution { task total } } }`, { id: version.id });
    expect(distribution.data!.dataset.distribution[0].total).toBe(parent.itemCount - 1);
  });
});

describe('the labels commands', () => {
  it('find, show, review and apply a scan as a user would, from the built command', async () => {
    const dir = path.join(scratch.dir, 'data');
    const env = { ...process.env, FASHION_HOW_DATA_DIR: dir, DATABASE_URL: testDatabaseUrl(dir), LOG_LEVEL: 'silent' };
    const found = await runCli(['labels', 'find', '--dataset', String(datasetId), '--artifact', String(artifactId), '--split', 'VALIDATION'], env);
    expect(found.code, found.stderr).toBe(0);
    const scanId = Number(found.stdout.match(/^scan (\d+) of dataset/m)![1]);
    const scan = await app.services.labelReview.scan(scanId);
    expect(scan.itemCount).toBe(await app.services.db.item.count({ where: { datasetId, split: 'VALIDATION' } }));
    const issues = await app.services.db.labelIssue.count({ where: { scanId } });
    const excluded = await runCli(['labels', 'review', String(scanId), 'exclude'], env);
    expect(excluded.stdout).toContain(`${issues} suspect(s) of scan ${scanId} marked EXCLUDE`);
    const shown = await runCli(['labels', 'show', String(scanId)], env);
    expect(shown.code).toBe(0);
    expect(shown.stdout.match(/EXCLUDE/g)?.length ?? 0).toBe(Math.min(issues, 50));
    const bad = await runCli(['labels', 'review', String(scanId), 'forget'], env);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('decision must be one of PENDING, KEEP, RELABEL, EXCLUDE, got "forget"');
    const applied = await runCli(['labels', 'apply', String(scanId), '--name', 'reviewed by the CLI'], env);
    expect(applied.code, applied.stderr).toBe(0);
    const version = await app.services.db.dataset.findFirstOrThrow({ where: { name: 'reviewed by the CLI' } });
    const excludedItems = new Set((await app.services.db.labelIssue.findMany({ where: { scanId } })).map((i) => i.itemId)).size;
    expect(version.itemCount).toBe((await app.services.db.dataset.findUniqueOrThrow({ where: { id: datasetId } })).itemCount - excludedItems);
    expect(applied.stdout).toContain(`dataset ${version.id} "reviewed by the CLI" (version 2 of dataset ${datasetId})`);
  });
});
