// Sweep.race: a race's record (Sweep.race, see training/raceService.ts) as GraphQL's RaceDetails, its
// runs and ensemble read once for the whole answer.
import type { Sweep } from '../../db/generated/client.js';
import type { RaceCandidate } from '../../training/race.js';
import type { RaceRecord } from '../../training/raceService.js';
import type { Context } from '../context.js';
import type { RaceDetails, RacePreset, RaceStatus } from '../generated/graphql.js';

export async function raceDetails(sweep: Sweep, { services }: Context) {
  if (sweep.strategy !== 'RACE' || !sweep.race) return null;
  const race = sweep.race as unknown as RaceRecord;
  const runs = new Map((await services.db.trainingRun.findMany({ where: { sweepId: sweep.id } })).map((run) => [run.id, run]));
  const candidate = (c: RaceCandidate, index: number) => ({
    index,
    backbone: c.backbone,
    head: c.head,
    imageSize: c.imageSize,
    smallInputStem: c.options?.smallInputStem === true,
  });
  const candidates = race.candidates.map(candidate);
  return {
    preset: race.preset.toUpperCase() as RacePreset,
    budgetSeconds: sweep.budgetSeconds ?? 0,
    status: race.status as RaceStatus,
    candidates,
    leftOut: race.leftOut.map(({ candidate: c, reason }) => ({ backbone: c.backbone, imageSize: c.imageSize, reason })),
    sizeLimitMb: race.sizeLimitMb,
    rungs: race.rungs.map((rung) => ({
      rung: rung.rung,
      secondsPerRun: rung.secondsPerRun,
      decided: rung.decided,
      entries: rung.entries.map((entry) => ({
        candidate: candidates[entry.candidate]!,
        run: runs.get(entry.runId)!,
        score: 'score' in entry ? entry.score : null,
        kept: 'kept' in entry ? entry.kept : null,
        reason: 'reason' in entry ? entry.reason : null,
      })),
    })),
    best: race.best ? (runs.get(race.best.runId) ?? null) : null,
    bestScore: race.best?.score ?? null,
    ensemble: race.ensembleId ? await services.db.ensemble.findUnique({ where: { id: race.ensembleId } }) : null,
    student: race.distilled
      ? {
          backbone: race.distilled.candidate.backbone,
          imageSize: race.distilled.candidate.imageSize,
          run: await services.training.get(race.distilled.runId),
          teacher: await services.db.ensemble.findUnique({ where: { id: race.distilled.teacherEnsembleId } }),
          sizeMb: race.distilled.sizeMb,
          score: race.distilled.score,
          bestScore: race.distilled.bestScore,
          gap: race.distilled.gap,
        }
      : null,
    note: race.note ?? null,
    wallSeconds: race.wallSeconds ?? null,
  } satisfies Omit<RaceDetails, 'best' | 'ensemble' | 'rungs' | 'student'> & Record<string, unknown>;
}
