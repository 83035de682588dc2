// A budget that races a portfolio by accuracy, the pure part: the presets (data: which candidates, what
// they are for), the plan that divides a time budget into rungs of successive halving (Jamieson &
// Talwalkar, 2016), and the ranking that decides who goes on. Each rung trains its candidates afresh, each
// run with its own time budget (so its schedule is sized to the time it has), judged on VALIDATION by the
// dataset's ranking metric; the best 1/reductionFactor go on with reductionFactor times the time each.
// The finalists' last runs give the best single model and a fitted ensemble (raceService.ts drives it).
import { badInput } from '../errors.js';
import type { Hyperparameters } from './hyper.js';

export const RACE_PRESETS = ['fast', 'best', 'compliant'] as const;
export type RacePreset = (typeof RACE_PRESETS)[number];

/** One entry of a race: a backbone at a side, with the options that make it what it is. */
export interface RaceCandidate {
  backbone: string;
  head: string;
  imageSize: number;
  /** Options beside the side (the small-input stem for a torchvision ResNet). */
  options?: Partial<Hyperparameters>;
}

interface PresetSpec {
  description: string;
  /** In order of preference: when the budget cannot give every candidate a first rung, the first ones race. */
  candidates: RaceCandidate[];
  /** One model only, under the size limit (the 2024 season's rule): no ensemble is fitted. */
  singleModel: boolean;
}

const entry = (backbone: string, imageSize: number): RaceCandidate => ({ backbone, head: 'feedforward', imageSize });

/** The presets, as data. Candidates span networks and sides, since which wins depends on the data: on
 *  real garment crops a compact network at 32 px beat resnet18 at 64 px (issue 34), on the silhouette
 *  benchmark the reverse (docs/training.md, measured); the race decides on the dataset at hand. */
export const PRESETS: Record<RacePreset, PresetSpec> = {
  fast: {
    description: 'three small candidates at three sides; the race ends sooner and the models are a few MB',
    candidates: [entry('compact_s', 32), entry('compact_s', 48), entry('compact_s', 64)],
    singleModel: false,
  },
  best: {
    description: 'the widest portfolio; the best single model and a fitted ensemble of the finalists',
    // The first three are the most different (which survive a short budget): a small-input network at
    // 32 px, the previous default (resnet18's ImageNet stem at 64 px, which won on the silhouette data
    // where 32 px loses the fine texture) and a larger side; resnet18 with the small stem costs ~14x a
    // compact_s at 32 px, so it comes last.
    candidates: [
      entry('compact_s', 32),
      entry('resnet18', 64),
      entry('compact_s', 48),
      entry('compact_m', 64),
      entry('compact_m', 32),
      entry('compact_s', 64),
      { backbone: 'resnet18', head: 'feedforward', imageSize: 32, options: { smallInputStem: true } },
    ],
    singleModel: false,
  },
  compliant: {
    description:
      "one model under the size limit (the dataset's season profile's; 25 MB under the 2024 rules): only the candidates that fit race, and no ensemble",
    candidates: [
      entry('compact_s', 32),
      entry('compact_s', 48),
      entry('compact_m', 64),
      entry('compact_m', 32),
      entry('compact_s', 64),
      entry('compact_xs', 32),
    ],
    singleModel: true,
  },
};

/** A race whose portfolio has candidates over the size limit keeps this share of its budget for a student:
 *  when its best model is over the limit, the finalists' ensemble is distilled into the first candidate
 *  that fits, so the race also ends with a model the season would accept. */
export const STUDENT_SHARE = 0.25;

/** The training options every race run shares: the practitioner's loop (docs/training.md, measured). */
export const RACE_RECIPE: Partial<Hyperparameters> = {
  learningRate: 3e-3,
  weightDecay: 5e-4,
  batchSize: 64,
  lrSchedule: 'onecycle',
  emaDecay: 0.999,
  randomShift: 0.125,
  labelSmoothing: 0.1,
  horizontalFlip: true,
  testTimeFlip: true,
  cutmix: 'off',
  hiddenSize: 256,
  dropout: 0.1,
  pretrained: 'none',
};

export interface RungPlan {
  rung: number;
  /** Candidates that train in this rung. */
  runs: number;
  /** The time budget of each of its runs. */
  secondsPerRun: number;
}

export interface RacePlan {
  /** Candidates that race (the first ones of the preset's list that the budget has room for). */
  candidates: number;
  rungs: RungPlan[];
  /** Kept back for the ensemble fit and evaluation after the last rung. */
  reserveSeconds: number;
}

/** The least time a first-rung run may have. Shorter first rungs favour whatever converges in seconds:
 *  at 35 s a run on 1,050 images, resnet18 at 64 px (the silhouette data's best at 150 s) was out at
 *  rung 0 and a compact network at 32 px won a race 0.24 below it (docs/training.md, measured). */
export const MIN_RUN_SECONDS = 120;

/** Divides `budgetSeconds` of wall time into rungs: rung r trains ceil(n / f^r) candidates, each for f
 *  times as long as in the rung before, so every rung costs about the same; `parallel` runs train at once
 *  (the training concurrency). The last rung has at most `finalists` runs. The reserve is 5 % (at least
 *  20 s) for the ensemble and its evaluation. Candidates are dropped from the end of the list until each
 *  first-rung run gets `minRunSeconds` and the first rung has more candidates than finalists (so that
 *  it decides something); failing both, the first candidate alone gets the budget. */
export function planRace(
  budgetSeconds: number,
  available: number,
  reductionFactor = 3,
  finalists = 2,
  parallel = 1,
  minRunSeconds = MIN_RUN_SECONDS,
): RacePlan {
  if (!(reductionFactor >= 2)) throw badInput(`a race's reduction factor must be at least 2, got ${reductionFactor}`);
  const reserveSeconds = Math.max(20, Math.round(budgetSeconds * 0.05));
  const usable = budgetSeconds - reserveSeconds;
  for (let candidates = available; candidates >= 1; candidates--) {
    const counts = [candidates];
    while (counts.at(-1)! > finalists) counts.push(Math.max(finalists, Math.ceil(counts.at(-1)! / reductionFactor)));
    // Rung r's wall time is waves(r) x base x f^r, where waves are the runs that train one after another.
    const waves = counts.map((n) => Math.ceil(n / parallel));
    const weight = waves.reduce((sum, w, r) => sum + w * reductionFactor ** r, 0);
    const base = Math.floor(usable / weight);
    // A first rung that keeps every candidate decides nothing: it only splits the budget (at 600 s on two
    // cores, two candidates of 213 s each ended 0.24 below one of them trained for the whole budget,
    // docs/training.md). Then the preset's first candidate takes the whole budget alone.
    if (candidates > 1 && counts.length === 1) continue;
    if (base >= minRunSeconds || candidates === 1) {
      if (base < minRunSeconds)
        throw badInput(
          `a time budget of ${budgetSeconds} s leaves under ${minRunSeconds} s for one run after the ${reserveSeconds} s reserve; give the race more time`,
        );
      return { candidates, rungs: counts.map((runs, rung) => ({ rung, runs, secondsPerRun: base * reductionFactor ** rung })), reserveSeconds };
    }
  }
  throw badInput('a race needs at least one candidate');
}

export interface RaceEntry {
  candidate: number;
  runId: number;
  /** The run's best validation figure by the race's metric; null when it did not succeed. */
  score: number | null;
  /** How the run ended, when it did not succeed (FAILED, CANCELLED, INTERRUPTED). */
  ended?: string;
}

export interface RankedEntry extends RaceEntry {
  kept: boolean;
  reason: string;
}

/** Who goes on from a rung: the best `keep` by score (ties: the earlier candidate, the preset's
 *  preference); a failed run never goes on. Each entry says why. In the last rung (`final`) the one kept
 *  is the race's best. */
export function rankRung(entries: RaceEntry[], keep: number, metric: string, final = false): RankedEntry[] {
  const order = entries
    .filter((e) => e.score !== null)
    .sort((a, b) => b.score! - a.score! || a.candidate - b.candidate)
    .map((e) => e.candidate);
  const kept = new Set(order.slice(0, keep));
  const cutoff = order.length > keep ? entries.find((e) => e.candidate === order[keep - 1])!.score! : null;
  return entries.map((entry) => {
    if (entry.score === null) return { ...entry, kept: false, reason: `the run ended ${entry.ended ?? 'FAILED'}` };
    const place = order.indexOf(entry.candidate) + 1;
    const figure = `${metric} ${entry.score.toFixed(4)}, place ${place} of ${order.length}`;
    if (kept.has(entry.candidate)) return { ...entry, kept: true, reason: final ? `${figure}: the best` : `${figure}: among the best ${keep}` };
    return { ...entry, kept: false, reason: `${figure}: below place ${keep}'s ${cutoff!.toFixed(4)}` };
  });
}

/** Megabytes of a race's model whose feature extractor has `parametersMillions`: fp32 weights, and the
 *  heads at the race's hidden size add well under 1 MB. */
export const raceModelMegabytes = (parametersMillions: number) => parametersMillions * 4 + 1;

/** The time each run of the next rung gets. As planned, or less when the host ran slower than planned
 *  (what is left of the budget, split over the runs that train one after another). The last rung takes
 *  all that is left when no student can be needed (none of its candidates is over the size limit): the
 *  share kept for a student would otherwise go unspent (a 30-minute race ended at 1,243 s,
 *  docs/training.md), and so would what a faster host saved. */
export function nextRungSeconds(plannedSeconds: number, leftSeconds: number, waves: number, last: boolean, studentPossible: boolean): number {
  const share = Math.floor(leftSeconds / waves);
  return Math.max(10, last && !studentPossible ? share : Math.min(plannedSeconds, share));
}
