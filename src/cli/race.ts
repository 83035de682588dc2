// `fashion-how train --time-budget 30m` with no backbone: a race over a preset's portfolio, followed here
// rung by rung, each decision printed with its reason as it is made.
import type { App } from '../app.js';
import type { RaceRecord } from '../training/raceService.js';
import { table } from './format.js';

const candidateName = (race: RaceRecord, index: number) => {
  const c = race.candidates[index]!;
  return `${c.backbone}${c.options?.smallInputStem ? ' (small stem)' : ''} @ ${c.imageSize} px`;
};

/** The race as a reader wants it: what raced, each rung's entries with their figures and decisions, the outcome. */
export function describeRace(id: number, race: RaceRecord): string {
  const lines = [
    `race ${id} (${race.preset}): ${race.candidates.length} candidates, rungs of ${race.plan.rungs.map((r) => `${r.runs} x ${r.secondsPerRun} s`).join(', then ')}; ${race.status.toLowerCase()}`,
  ];
  for (const left of race.leftOut) lines.push(`  left out: ${left.candidate.backbone} @ ${left.candidate.imageSize} px: ${left.reason}`);
  for (const rung of race.rungs) {
    const last = rung.rung === race.plan.rungs.length - 1;
    const rows = rung.entries.map((entry) => {
      const decided = 'kept' in entry ? entry : null;
      const decision = !decided ? 'training' : last ? (decided.kept ? 'best' : 'finalist') : decided.kept ? 'goes on' : 'stops';
      return [candidateName(race, entry.candidate), String(entry.runId), decision, decided?.reason ?? ''];
    });
    lines.push(`rung ${rung.rung} (${rung.secondsPerRun} s a run):`, table(['candidate', 'run', 'decision', 'why'], rows));
  }
  if (race.best)
    lines.push(
      `best single model: ${candidateName(race, race.best.candidate)}, run ${race.best.runId}, artifact ${race.best.artifactId} (${race.best.score.toFixed(4)} on VALIDATION)`,
    );
  if (race.ensembleId) lines.push(`the finalists fitted into ensemble ${race.ensembleId}`);
  if (race.note) lines.push(race.note);
  if (race.wallSeconds !== undefined) lines.push(`wall time ${race.wallSeconds.toFixed(0)} s`);
  return lines.join('\n');
}

/** Prints each rung's decisions as they are made, and the whole race at its end. */
export async function followRace(app: App, id: number): Promise<RaceRecord> {
  let printed = 0;
  for (;;) {
    const { race } = await app.services.races.get(id);
    const decided = race.rungs.filter((r) => r.decided);
    for (const rung of decided.slice(printed)) {
      const kept = rung.entries.filter((e) => 'kept' in e && e.kept).map((e) => candidateName(race, e.candidate));
      const last = rung.rung === race.plan.rungs.length - 1;
      console.error(`rung ${rung.rung} decided: ${kept.join(', ')} ${last ? 'is the best' : kept.length === 1 ? 'goes on' : 'go on'}`);
    }
    printed = decided.length;
    if (race.status !== 'RUNNING') {
      console.log(describeRace(id, race));
      return race;
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}
