// Upload a dataset folder, train two combos, wait for them, build an ensemble and print its report.
// Needs a token with role trainer:  FASHION_HOW_TOKEN=$(npx fashion-how token create --role trainer --name example)
//   node --import tsx examples/train-and-evaluate.ts path/to/dataset-folder   (train.csv + images/, or an archive)
import { FashionHowClient } from 'fashion-how/sdk';

const folder = process.argv[2];
if (!folder) throw new Error('usage: train-and-evaluate.ts path/to/dataset-folder');
const client = new FashionHowClient();
const { dataset } = await client.uploadDataset(folder, {}, (p) => console.log(`upload: ${p.phase} ${p.done}/${p.total}`));
const runs = await client.startTraining({
  datasetId: dataset.id,
  backbones: ['mobilenet_v3_small', 'resnet18'],
  heads: ['residual'],
  options: { epochs: 2, imageSize: 64, batchSize: 32, cutmix: 'OFFLINE', cutmixCopies: 1 },
});
const finished = await Promise.all(
  runs.map((run) =>
    client.waitForRun(run.id, {
      onProgress: (r) => r.progress && console.log(`run ${r.id}: ${r.status} epoch ${r.progress.epoch} step ${r.progress.step}/${r.progress.totalSteps}`),
    }),
  ),
);
const ensemble = await client.createEnsemble({ name: `example ${Date.now()}`, members: finished.map((r) => ({ artifactId: r.artifact!.id, weight: 1 })) });
const report = await client.evaluate({ ensembleId: ensemble.id, datasetId: dataset.id, split: 'VALIDATION' });
console.log(`ensemble mean ACSA ${report.meanAcsa.toFixed(3)} (members: ${report.members.map((m) => m.meanAcsa.toFixed(3)).join(', ')})`);
for (const task of report.details)
  console.log(
    `${task.name}: top-1 ${task.top1.toFixed(3)} [${task.top1Interval.low.toFixed(3)}, ${task.top1Interval.high.toFixed(3)}], ACSA ${task.acsa.toFixed(3)}`,
  );
