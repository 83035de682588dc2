// A compliant race whose best model is over the size limit ends with a student: the finalists' fitted
// ensemble as teacher, distilled into the first candidate of the preset that fits the limit, in what is
// left of the budget. The record says how close the student came to the best model it could not submit.
import type { Db } from '../db/client.js';
import type { EnsembleFitter } from '../inference/fitEnsemble.js';
import type { Hyperparameters } from './hyper.js';
import type { RaceCandidate, RankedEntry } from './race.js';
import type { TrainingService } from './service.js';
import { scoreOf } from './sweepService.js';

export interface StudentRecord {
  candidate: RaceCandidate;
  teacherEnsembleId: number;
  runId: number;
  status: string;
  artifactId: number | null;
  sizeMb: number | null;
  score: number | null;
  /** The over-limit best finalist's figure, and how far below it the student stayed (null: it failed). */
  bestScore: number;
  gap: number | null;
  seconds: number;
}

interface StudentRequest {
  sweepId: number;
  datasetId: number;
  metric: string;
  recipe: Partial<Hyperparameters>;
  finalists: RankedEntry[];
  student: RaceCandidate;
  seconds: number;
}

export async function distilStudent(db: Db, training: TrainingService, fitter: Pick<EnsembleFitter, 'fit'>, request: StudentRequest): Promise<StudentRecord> {
  const artifacts = await db.modelArtifact.findMany({ where: { runId: { in: request.finalists.map((f) => f.runId) } } });
  const teacher = await fitter.fit({
    name: `race ${request.sweepId} teacher`,
    artifactIds: artifacts.map((a) => a.id),
    datasetId: request.datasetId,
    logitAdjustment: true,
  });
  const { student } = request;
  const [run] = await training.startTraining({
    datasetId: request.datasetId,
    combos: [{ backbone: student.backbone, head: student.head }],
    options: {
      ...request.recipe,
      ...student.options,
      imageSize: student.imageSize,
      budgetImageSizes: [student.imageSize],
      timeBudgetSeconds: request.seconds,
    },
    teacher: { ensembleId: teacher.id, compareWithoutTeacher: false },
  });
  await training.waitFor([run!.id]);
  const done = await training.get(run!.id);
  const artifact = done.status === 'SUCCEEDED' ? await db.modelArtifact.findUnique({ where: { runId: done.id } }) : null;
  const score = done.status === 'SUCCEEDED' ? scoreOf(done, request.metric) : null;
  const bestScore = request.finalists[0]!.score!;
  return {
    candidate: student,
    teacherEnsembleId: teacher.id,
    runId: done.id,
    status: done.status,
    artifactId: artifact?.id ?? null,
    sizeMb: artifact ? artifact.sizeBytes / 1e6 : null,
    score,
    bestScore,
    gap: score === null ? null : bestScore - score,
    seconds: request.seconds,
  };
}
