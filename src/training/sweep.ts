// Hyperparameter sweeps, the pure part: the search space and its checks, the trials drawn from it,
// and asynchronous successive halving (ASHA; Li et al., 2020). A trial that finishes a rung epoch is
// compared with every trial of its sweep that reached that rung before it: it goes on when its
// figure is among the best 1/reductionFactor of them (at least the best one), and stops there
// otherwise. The rule is Optuna's SuccessiveHalvingPruner's, so nothing waits for a rung to fill and
// worker hosts never idle waiting for stragglers.
import seedrandom from 'seedrandom';
import { badInput } from '../errors.js';
import { CUTMIX_MODES, type Hyperparameters } from './hyper.js';

export const SWEEP_STRATEGIES = ['RANDOM', 'ASHA'] as const;
export type SweepStrategy = (typeof SWEEP_STRATEGIES)[number];
/** Trials one sweep may have. */
export const MAX_TRIALS = 200;

export interface NumberRange {
  min: number;
  max: number;
  /** Draw uniformly in log space (learning rates, weight decay). */
  log?: boolean;
}

/** What a sweep searches over; a field left out keeps the base options' value in every trial. */
export interface SweepSpace {
  learningRate?: NumberRange;
  weightDecay?: NumberRange;
  labelSmoothing?: NumberRange;
  mixupProbability?: NumberRange;
  imageSize?: number[];
  cutmix?: Hyperparameters['cutmix'][];
  backbone?: string[];
  head?: string[];
}

/** One trial's draw: the combo and the options that differ from the base. */
export interface TrialParameters {
  backbone: string;
  head: string;
  options: Partial<Pick<Hyperparameters, 'learningRate' | 'weightDecay' | 'labelSmoothing' | 'mixupProbability' | 'imageSize' | 'cutmix'>>;
}

/** One rung decision of a trial, stored with the figures it was made from (so anyone can re-check it). */
export interface RungDecision {
  epoch: number;
  /** The trial's best validation figure up to this epoch (the metric the sweep optimises). */
  value: number;
  /** The figures at this rung of every trial that had reached it, this one included. */
  competing: number[];
  /** How many of them go on: max(1, floor(competing / reductionFactor)). */
  kept: number;
  promoted: boolean;
}

/** What TrainingRun.trial holds for a run of a sweep. */
export interface TrialRecord {
  sweepId: number;
  index: number;
  parameters: TrialParameters;
  /** Epochs after which the trial meets a rung (ASHA); empty for random search. */
  rungEpochs: number[];
  reductionFactor: number;
  rungs: RungDecision[];
  /** The rung epoch at which it stopped; null when it trained to the end. */
  prunedAtEpoch: number | null;
}

/** Lower and upper bounds of the ranges a space may give. */
const RANGE_LIMITS: Record<'learningRate' | 'weightDecay' | 'labelSmoothing' | 'mixupProbability', [number, number]> = {
  learningRate: [1e-8, 1],
  weightDecay: [0, 1],
  labelSmoothing: [0, 0.5],
  mixupProbability: [0, 1],
};

/** Checks a space against the limits of the options it draws; the message names the field and limit.
 *  Backbone and head names are checked against `choices` when this host knows them. */
export function checkSpace(space: SweepSpace, choices: { backbones: readonly string[]; heads: readonly string[] } | null): SweepSpace {
  for (const [key, [lo, hi]] of Object.entries(RANGE_LIMITS) as [keyof typeof RANGE_LIMITS, [number, number]][]) {
    const range = space[key];
    if (!range) continue;
    if (!(Number.isFinite(range.min) && Number.isFinite(range.max) && range.min >= lo && range.max <= hi && range.min <= range.max))
      throw badInput(`space.${key} must have ${lo} <= min <= max <= ${hi}, got min ${range.min} and max ${range.max}`);
    if (range.log && range.min <= 0) throw badInput(`space.${key} is drawn in log space, so min must be above 0, got ${range.min}`);
  }
  const lists = { imageSize: space.imageSize, cutmix: space.cutmix, backbone: space.backbone, head: space.head };
  for (const [key, list] of Object.entries(lists)) {
    if (list && list.length === 0) throw badInput(`space.${key} must list at least one value when given`);
  }
  for (const size of space.imageSize ?? [])
    if (!(Number.isInteger(size) && size >= 16 && size <= 1024)) throw badInput(`space.imageSize values must be integers from 16 to 1024, got ${size}`);
  for (const mode of space.cutmix ?? [])
    if (!CUTMIX_MODES.includes(mode)) throw badInput(`space.cutmix values must be among ${CUTMIX_MODES.join(', ')}, got "${mode}"`);
  for (const backbone of space.backbone ?? [])
    if (choices && !choices.backbones.includes(backbone))
      throw badInput(`space.backbone: unsupported backbone "${backbone}". Choose from: ${choices.backbones.join(', ')}`);
  for (const head of space.head ?? [])
    if (choices && !choices.heads.includes(head)) throw badInput(`space.head: unsupported head "${head}". Choose from: ${choices.heads.join(', ')}`);
  return space;
}

/** The trials of a sweep, drawn independently and reproducibly from the space with the sweep's seed. */
export function drawTrials(space: SweepSpace, count: number, seed: number, base: { backbone: string; head: string }): TrialParameters[] {
  const rng = seedrandom(`sweep:${seed}`);
  const number = (range: NumberRange) => {
    const u = rng();
    const value = range.log ? Math.exp(Math.log(range.min) + u * (Math.log(range.max) - Math.log(range.min))) : range.min + u * (range.max - range.min);
    return Number(value.toPrecision(4));
  };
  const pick = <T>(list: readonly T[]) => list[Math.floor(rng() * list.length)]!;
  return Array.from({ length: count }, () => {
    const options: TrialParameters['options'] = {};
    // A fixed order of draws, so that one seed gives one sweep whatever the space leaves out.
    if (space.learningRate) options.learningRate = number(space.learningRate);
    if (space.weightDecay) options.weightDecay = number(space.weightDecay);
    if (space.labelSmoothing) options.labelSmoothing = number(space.labelSmoothing);
    if (space.mixupProbability) options.mixupProbability = number(space.mixupProbability);
    if (space.imageSize) options.imageSize = pick(space.imageSize);
    if (space.cutmix) options.cutmix = pick(space.cutmix);
    return { backbone: space.backbone ? pick(space.backbone) : base.backbone, head: space.head ? pick(space.head) : base.head, options };
  });
}

/** ASHA's rung epochs below maxEpochs: minEpochs, minEpochs x eta, minEpochs x eta^2, ... */
export function rungEpochs(minEpochs: number, reductionFactor: number, maxEpochs: number): number[] {
  const rungs: number[] = [];
  for (let epoch = minEpochs; epoch < maxEpochs; epoch *= reductionFactor) rungs.push(epoch);
  return rungs;
}

/** Figures closer than this are a tie: means over tasks of equal accuracies differ in the last bits. */
export const TIE = 1e-9;

/** The decision at one rung: `value` against the figures `others` reached there before it. Ties go on. */
export function rungDecision(epoch: number, value: number, others: number[], reductionFactor: number): RungDecision {
  const competing = [...others, value].sort((a, b) => b - a);
  const kept = Math.max(1, Math.floor(competing.length / reductionFactor));
  return { epoch, value, competing, kept, promoted: value >= competing[kept - 1]! - TIE };
}

/** The trial record of a run; null for a run outside any sweep. */
export function trialOf(run: { trial?: unknown }): TrialRecord | null {
  return (run.trial as TrialRecord | null | undefined) ?? null;
}
