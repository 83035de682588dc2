// Likely mislabels: a confident-learning scan (labelIssues.ts) of a dataset's labels from out-of-sample
// probabilities (a cross-validation's out-of-fold predictions, or a model's on a split it did not train
// on), stored with its suspects; a review decides each one (keep, relabel, exclude); applying the review
// makes a new version of the dataset that training can use.
import type { DatasetService } from '../data/datasets.js';
import { requireLabels } from '../data/predictionSets.js';
import type { Db } from '../db/client.js';
import type { LabelIssue, LabelIssueScan } from '../db/generated/client.js';
import type { Split, TaskSpec } from '../domain.js';
import { badInput, notFound } from '../errors.js';
import type { ClassifyService } from '../inference/classify.js';
import { labelledItems, scoreItems } from '../inference/scoring.js';
import { findLabelIssues } from './labelIssues.js';

export const LABEL_DECISIONS = ['PENDING', 'KEEP', 'RELABEL', 'EXCLUDE'] as const;
export type LabelDecision = (typeof LABEL_DECISIONS)[number];

export interface FindLabelIssuesRequest {
  datasetId: number;
  crossValidationId?: number;
  artifactId?: number;
  ensembleId?: number;
  split?: Split;
}

/** What a scan stores per task (LabelIssueScan.tasks). */
export interface ScanTask {
  task: number;
  taskName: string;
  /** null for a class no scanned item is labelled with (it cannot be suggested). */
  thresholds: (number | null)[];
  confidentJoint: number[][];
  issueCount: number;
}

/** Out-of-sample probabilities per task: votes[task][item][class], for `itemIds`. */
interface Probabilities {
  itemIds: number[];
  votes: number[][][];
}

/** Where the cross-validation's out-of-fold predictions come from (the training layer's service). */
export interface OutOfFoldSource {
  get(id: number): Promise<{ datasetId: number }>;
  /** `expectedItems`: the TRAIN and VALIDATION items the folds cover once all have finished. */
  outOfFold(id: number): Promise<Probabilities & { expectedItems: number }>;
}

export class LabelReviewService {
  constructor(
    private readonly db: Db,
    private readonly datasets: DatasetService,
    private readonly classify: ClassifyService,
    private readonly outOfFold: OutOfFoldSource,
  ) {}

  /** Scans the dataset's labels and stores the scan with its suspects. */
  async find(request: FindLabelIssuesRequest): Promise<LabelIssueScan> {
    const dataset = await this.datasets.get(request.datasetId);
    requireLabels(dataset, 'scan for mislabels');
    const { tasks } = await this.datasets.labelSchema(dataset.labelSchemaId);
    const sources = [request.crossValidationId, request.artifactId, request.ensembleId].filter((s) => s !== undefined);
    if (sources.length !== 1) throw badInput('give exactly one of crossValidationId, artifactId, ensembleId: where the probabilities come from');
    const { itemIds, votes } = request.crossValidationId !== undefined ? await this.fromCrossValidation(request) : await this.fromModel(request, tasks);
    if (itemIds.length === 0) throw badInput('no items to scan: the source has no predictions for this dataset yet');
    const labels = await this.db.itemLabel.findMany({ where: { itemId: { in: itemIds } }, select: { itemId: true, task: true, classIndex: true } });
    const given = new Map(labels.map((l) => [`${l.itemId}:${l.task}`, l.classIndex]));
    const found = tasks.map((task, t) => ({
      task,
      t,
      result: findLabelIssues(
        itemIds.map((id) => given.get(`${id}:${t}`)!),
        votes[t]!,
        task.classes.length,
      ),
    }));
    const summary: ScanTask[] = found.map(({ task, t, result }) => ({
      task: t,
      taskName: task.name,
      thresholds: result.thresholds.map((v) => (Number.isFinite(v) ? v : null)),
      confidentJoint: result.confidentJoint,
      issueCount: result.suspects.length,
    }));
    return this.db.$transaction(async (tx) => {
      const scan = await tx.labelIssueScan.create({
        data: {
          datasetId: dataset.id,
          crossValidationId: request.crossValidationId ?? null,
          artifactId: request.artifactId ?? null,
          ensembleId: request.ensembleId ?? null,
          split: request.crossValidationId !== undefined ? null : (request.split ?? 'VALIDATION'),
          itemCount: itemIds.length,
          tasks: summary as object,
        },
      });
      await tx.labelIssue.createMany({
        data: found.flatMap(({ t, result }) =>
          result.suspects.map((s, rank) => ({
            scanId: scan.id,
            itemId: itemIds[s.index]!,
            task: t,
            rank: rank + 1,
            givenClass: s.given,
            selfConfidence: s.selfConfidence,
            suggestedClass: s.suggested,
            suggestedProbability: s.suggestedProbability,
          })),
        ),
      });
      return scan;
    });
  }

  private async fromCrossValidation({ datasetId, crossValidationId }: FindLabelIssuesRequest): Promise<Probabilities> {
    const cv = await this.outOfFold.get(crossValidationId!);
    if (cv.datasetId !== datasetId) throw badInput(`cross-validation ${crossValidationId} trained on dataset ${cv.datasetId}, not ${datasetId}`);
    const oof = await this.outOfFold.outOfFold(crossValidationId!);
    // Thresholds over a part of the items would be another dataset's: every fold first.
    if (oof.itemIds.length < oof.expectedItems)
      throw badInput(
        `cross-validation ${crossValidationId} has out-of-fold predictions for ${oof.itemIds.length} of ${oof.expectedItems} items: wait for its folds to finish`,
      );
    return oof;
  }

  /** A model's probabilities on a split through the serving path; never on a split it trained on. */
  private async fromModel({ datasetId, artifactId, ensembleId, split = 'VALIDATION' }: FindLabelIssuesRequest, tasks: TaskSpec[]): Promise<Probabilities> {
    const { members } = await this.classify.members({ artifactId, ensembleId });
    const modelTasks = members[0]!.model.info.tasks;
    if (modelTasks.map((t) => t.classes.length).join() !== tasks.map((t) => t.classes.length).join())
      throw badInput(
        `the model predicts ${modelTasks.map((t) => `${t.name} (${t.classes.length})`).join(', ')}, another label schema than dataset ${datasetId}'s`,
      );
    if (split === 'TRAIN') {
      const runs = await this.db.trainingRun.findMany({ where: { artifact: { id: { in: members.map((m) => m.model.artifact.id) } } } });
      if (runs.some((r) => r.datasetId === datasetId))
        throw badInput(
          `the model trained on dataset ${datasetId}'s TRAIN split: its probabilities there are not out of sample; scan VALIDATION or TEST, or use a cross-validation`,
        );
    }
    const dataset = await this.datasets.get(datasetId);
    const { items } = await labelledItems(this.db, datasetId, split, tasks.length);
    const results = await scoreItems(this.classify, this.datasets.photos.of(dataset), items, { artifactId, ensembleId });
    return { itemIds: items.map((i) => i.id), votes: tasks.map((_, t) => results.map((r) => r[t]!.probabilities)) };
  }

  async scan(id: number): Promise<LabelIssueScan> {
    const scan = await this.db.labelIssueScan.findUnique({ where: { id } });
    if (!scan) throw notFound('label-issue scan', id);
    return scan;
  }

  list(datasetId?: number): Promise<LabelIssueScan[]> {
    return this.db.labelIssueScan.findMany({ where: datasetId ? { datasetId } : {}, orderBy: { id: 'desc' } });
  }

  issues(scanId: number, filter: { task?: number; decision?: LabelDecision; limit?: number; offset?: number }): Promise<LabelIssue[]> {
    const limit = filter.limit ?? 100;
    if (!(Number.isInteger(limit) && limit >= 1 && limit <= 1000)) throw badInput(`limit must be from 1 to 1,000, got ${limit}`);
    return this.db.labelIssue.findMany({
      where: { scanId, ...(filter.task !== undefined ? { task: filter.task } : {}), ...(filter.decision ? { decision: filter.decision } : {}) },
      orderBy: [{ task: 'asc' }, { rank: 'asc' }],
      take: limit,
      skip: Math.max(0, filter.offset ?? 0),
    });
  }

  /** Decides one suspect; RELABEL goes to `classIndex`, by default the class the models believe. */
  async review(issueId: number, decision: LabelDecision, classIndex?: number): Promise<LabelIssue> {
    const issue = await this.db.labelIssue.findUnique({ where: { id: issueId }, include: { scan: true } });
    if (!issue) throw notFound('label issue', issueId);
    if (!LABEL_DECISIONS.includes(decision)) throw badInput(`decision must be one of ${LABEL_DECISIONS.join(', ')}, got "${decision}"`);
    if (issue.scan.reviewedDatasetId !== null)
      throw badInput(`scan ${issue.scanId} was applied as dataset ${issue.scan.reviewedDatasetId}: its decisions are final; scan that version to review again`);
    if (classIndex !== undefined && decision !== 'RELABEL') throw badInput('classIndex goes with RELABEL only');
    let relabelTo: number | null = null;
    if (decision === 'RELABEL') {
      const dataset = await this.datasets.get(issue.scan.datasetId);
      const { tasks } = await this.datasets.labelSchema(dataset.labelSchemaId);
      const classes = tasks[issue.task]!.classes;
      relabelTo = classIndex ?? issue.suggestedClass;
      if (!(Number.isInteger(relabelTo) && relabelTo >= 0 && relabelTo < classes.length))
        throw badInput(`classIndex for ${tasks[issue.task]!.name} must be from 0 to ${classes.length - 1}, got ${relabelTo}`);
    }
    return this.db.labelIssue.update({ where: { id: issueId }, data: { decision, relabelTo, reviewedAt: decision === 'PENDING' ? null : new Date() } });
  }

  /** Decides every suspect of a scan (of one task, and only those still PENDING unless `pendingOnly`
   *  is false) the same way; RELABEL takes each one's suggested class. Returns how many changed. */
  async reviewAll(scanId: number, decision: LabelDecision, options: { task?: number; pendingOnly?: boolean } = {}): Promise<number> {
    const scan = await this.scan(scanId);
    if (!LABEL_DECISIONS.includes(decision)) throw badInput(`decision must be one of ${LABEL_DECISIONS.join(', ')}, got "${decision}"`);
    if (scan.reviewedDatasetId !== null) throw badInput(`scan ${scanId} was applied as dataset ${scan.reviewedDatasetId}: its decisions are final`);
    const where = { scanId, ...(options.task !== undefined ? { task: options.task } : {}), ...(options.pendingOnly !== false ? { decision: 'PENDING' } : {}) };
    const reviewedAt = decision === 'PENDING' ? null : new Date();
    if (decision !== 'RELABEL') return (await this.db.labelIssue.updateMany({ where, data: { decision, relabelTo: null, reviewedAt } })).count;
    // Each to its own suggestion: one update per suggested class.
    const issues = await this.db.labelIssue.findMany({ where, select: { suggestedClass: true }, distinct: ['suggestedClass'] });
    let changed = 0;
    for (const { suggestedClass } of issues) {
      changed += (await this.db.labelIssue.updateMany({ where: { ...where, suggestedClass }, data: { decision, relabelTo: suggestedClass, reviewedAt } }))
        .count;
    }
    return changed;
  }

  /** The reviewed labels as a new version of the dataset (once per scan). */
  async apply(scanId: number, name?: string) {
    const scan = await this.scan(scanId);
    if (scan.reviewedDatasetId !== null) throw badInput(`scan ${scanId} was already applied as dataset ${scan.reviewedDatasetId}`);
    const decided = await this.db.labelIssue.findMany({ where: { scanId, decision: { in: ['RELABEL', 'EXCLUDE'] } } });
    const relabel = new Map<number, Map<number, number>>();
    for (const issue of decided.filter((d) => d.decision === 'RELABEL')) {
      const byTask = relabel.get(issue.itemId) ?? new Map<number, number>();
      byTask.set(issue.task, issue.relabelTo!);
      relabel.set(issue.itemId, byTask);
    }
    const exclude = new Set(decided.filter((d) => d.decision === 'EXCLUDE').map((d) => d.itemId));
    return this.db.$transaction(
      async (tx) => {
        const dataset = await this.datasets.createVersion(tx, scan.datasetId, { name, relabel, exclude });
        // A second apply of the same scan waits on this row and then finds it taken: it rolls back.
        const claimed = await tx.labelIssueScan.updateMany({ where: { id: scanId, reviewedDatasetId: null }, data: { reviewedDatasetId: dataset.id } });
        if (claimed.count === 0) throw badInput(`scan ${scanId} was already applied`);
        return dataset;
      },
      { timeout: 10 * 60_000, maxWait: 60_000 },
    );
  }
}
