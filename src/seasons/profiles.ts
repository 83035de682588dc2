// Season profiles: a Fashion-How season's rules as data (label space, ranking metric, size limit,
// ensembles, inference device, per-image time limit, submission format), so that which models a season
// accepts is computed from the profile a dataset declares, never from a constant. Two seasons are built
// in; users add their own as JSON files in FASHION_HOW_SEASONS_DIR, read once at start-up.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { badInput } from '../errors.js';

export const RANKING_METRICS = ['MEAN_TOP1', 'MEAN_ACSA'] as const;
export const INFERENCE_DEVICES = ['cpu', 'gpu', 'any'] as const;

/** One task of a season's label space: the submission column that holds it and how many classes it has. */
export interface SeasonTask {
  /** The platform's task name (Daily, Gender, Embellishment): matched against a model's tasks in order. */
  name: string;
  /** The column of the submission table holding this task's class index. */
  column: string;
  classCount: number;
}

/** Where a fact of a profile comes from: the season's public rules, or an assumption of this platform. */
export interface SeasonFact {
  fact: string;
  status: 'sourced' | 'assumed';
  note: string;
}

export interface SeasonProfile {
  id: string;
  name: string;
  tasks: SeasonTask[];
  rankingMetric: (typeof RANKING_METRICS)[number];
  /** Largest model file in MB (10^6 bytes), summed over an ensemble's members; null: no limit. */
  sizeLimitMb: number | null;
  ensemblesAllowed: boolean;
  device: (typeof INFERENCE_DEVICES)[number];
  /** Per-image inference time limit in milliseconds on the season's device; null: none stated. */
  latencyLimitMs: number | null;
  /** Whether the organisers run the model themselves (then a submission includes a package to run). */
  runsModel: boolean;
  submission: {
    /** The column naming the image, first in the table. */
    imageColumn: string;
    /** Class encoding: the class index (0-based) as the training CSV numbers it. */
    encoding: 'index';
    /** Row order: the test CSV's own. */
    order: 'test-csv';
    /** Tries a day, when the rules say. */
    triesPerDay: number | null;
  };
  sources: SeasonFact[];
  /** 'built-in' or the file a user profile was read from. */
  origin: string;
}

/** The columns of a profile's submission table, in order. */
export const submissionColumns = (profile: SeasonProfile): string[] => [profile.submission.imageColumn, ...profile.tasks.map((t) => t.column)];

const task = (name: string, column: string, classCount: number): SeasonTask => ({ name, column, classCount });
const SUBMISSION = { imageColumn: 'image_name', encoding: 'index', order: 'test-csv' } as const;

export const BUILT_IN_PROFILES: readonly SeasonProfile[] = [
  {
    id: '2022',
    name: 'Fashion-How 2022, sub-task 1 (sensibility)',
    tasks: [task('Daily', 'daily', 7), task('Gender', 'gender', 6), task('Embellishment', 'embel', 3)],
    rankingMetric: 'MEAN_TOP1',
    sizeLimitMb: null,
    ensemblesAllowed: true,
    device: 'any',
    latencyLimitMs: null,
    runsModel: false,
    submission: { ...SUBMISSION, triesPerDay: null },
    sources: [
      { fact: 'label space 7/6/3', status: 'sourced', note: "the season's data and the seed's slides" },
      { fact: 'ensembles allowed', status: 'sourced', note: 'the seed soft-voted 4 models for its submission' },
      { fact: 'ranked by mean top-1', status: 'assumed', note: 'as the sensibility task was scored; not re-read from the rules' },
      { fact: 'no size or time limit, any device', status: 'assumed', note: 'no limit is known to this platform' },
      { fact: 'table image_name, daily, gender, embel in the test CSV order', status: 'assumed', note: "the 2024 format, taken for 2022's too" },
    ],
    origin: 'built-in',
  },
  {
    id: '2024-subtask1',
    name: 'Fashion-How 2024, sub-task 1 (sensibility)',
    tasks: [task('Daily', 'daily', 6), task('Gender', 'gender', 5), task('Embellishment', 'embel', 3)],
    rankingMetric: 'MEAN_TOP1',
    sizeLimitMb: 25,
    ensemblesAllowed: false,
    device: 'cpu',
    latencyLimitMs: null,
    runsModel: true,
    submission: { ...SUBMISSION, triesPerDay: 3 },
    sources: [
      { fact: 'label space 6/5/3', status: 'sourced', note: 'as the top teams trained their heads' },
      { fact: 'ranked by top-1', status: 'sourced', note: "the season's public rules" },
      { fact: 'one model of at most 25 MB, no ensembles', status: 'sourced', note: "the season's public rules" },
      { fact: 'inference on CPU, in the organisers\u2019 notebook harness', status: 'sourced', note: "the season's public rules" },
      { fact: 'table image_name, daily, gender, embel in the test CSV order, 3 tries a day', status: 'sourced', note: "the season's public rules" },
      { fact: 'no per-image time limit', status: 'assumed', note: 'none is known to this platform; the submission check still reports CPU time per image' },
      { fact: '25 MB means 25 x 10^6 bytes of model file', status: 'assumed', note: 'the rules say MB' },
    ],
    origin: 'built-in',
  },
];

/** The profile a dataset that declares none is judged by (the season the platform's compliance line was built for). */
export const DEFAULT_PROFILE_ID = '2024-subtask1';

const ID_PATTERN = /^[a-z0-9][a-z0-9._-]{0,63}$/;

function positive(value: unknown, where: string, nullable: boolean): number | null {
  if (value === null && nullable) return null;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw badInput(`${where} must be a positive number${nullable ? ' or null' : ''}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function oneOf<T extends string>(value: unknown, choices: readonly T[], where: string): T {
  if (!choices.includes(value as T)) throw badInput(`${where} must be one of ${choices.join(', ')}, got ${JSON.stringify(value)}`);
  return value as T;
}

/** Checks a profile document (a user's file) and returns it whole; messages name the file and the field. */
export function validateProfile(doc: unknown, origin: string): SeasonProfile {
  const where = (field: string) => `season profile ${origin}: ${field}`;
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw badInput(`season profile ${origin}: expected a JSON object`);
  const d = doc as Record<string, unknown>;
  if (typeof d.id !== 'string' || !ID_PATTERN.test(d.id)) {
    throw badInput(`${where('id')} must be 1-64 lower-case letters, digits, '.', '_' or '-', got ${JSON.stringify(d.id)}`);
  }
  if (!Array.isArray(d.tasks) || d.tasks.length === 0) throw badInput(`${where('tasks')} must be a non-empty list of { name, column, classCount }`);
  const tasks = d.tasks.map((t: unknown, i) => {
    const e = (t ?? {}) as Record<string, unknown>;
    if (typeof e.name !== 'string' || e.name === '') throw badInput(`${where(`tasks[${i}].name`)} must be a non-empty string`);
    if (typeof e.column !== 'string' || e.column === '') throw badInput(`${where(`tasks[${i}].column`)} must be a non-empty string`);
    if (!Number.isInteger(e.classCount) || (e.classCount as number) < 2) {
      throw badInput(`${where(`tasks[${i}].classCount`)} must be an integer of at least 2, got ${JSON.stringify(e.classCount)}`);
    }
    return task(e.name, e.column, e.classCount as number);
  });
  const submission = (d.submission ?? {}) as Record<string, unknown>;
  const imageColumn = submission.imageColumn ?? 'image_name';
  if (typeof imageColumn !== 'string' || imageColumn === '') throw badInput(`${where('submission.imageColumn')} must be a non-empty string`);
  const columns = [imageColumn, ...tasks.map((t) => t.column)];
  if (new Set(columns).size !== columns.length) throw badInput(`${where('submission')} names a column twice: ${columns.join(', ')}`);
  const triesPerDay = submission.triesPerDay ?? null;
  if (triesPerDay !== null && !(Number.isInteger(triesPerDay) && (triesPerDay as number) > 0)) {
    throw badInput(`${where('submission.triesPerDay')} must be a positive integer or null, got ${JSON.stringify(triesPerDay)}`);
  }
  if (typeof d.ensemblesAllowed !== 'boolean') throw badInput(`${where('ensemblesAllowed')} must be true or false`);
  const sources = Array.isArray(d.sources) ? d.sources : [];
  return {
    id: d.id,
    name: typeof d.name === 'string' && d.name !== '' ? d.name : d.id,
    tasks,
    rankingMetric: oneOf(d.rankingMetric ?? 'MEAN_TOP1', RANKING_METRICS, where('rankingMetric')),
    sizeLimitMb: positive(d.sizeLimitMb ?? null, where('sizeLimitMb'), true),
    ensemblesAllowed: d.ensemblesAllowed,
    device: oneOf(d.device ?? 'any', INFERENCE_DEVICES, where('device')),
    latencyLimitMs: positive(d.latencyLimitMs ?? null, where('latencyLimitMs'), true),
    runsModel: d.runsModel === true,
    submission: { imageColumn, encoding: 'index', order: 'test-csv', triesPerDay: triesPerDay as number | null },
    sources: sources.map((s: unknown, i) => {
      const e = (s ?? {}) as Record<string, unknown>;
      if (typeof e.fact !== 'string') throw badInput(`${where(`sources[${i}].fact`)} must be a string`);
      return { fact: e.fact, status: oneOf(e.status, ['sourced', 'assumed'] as const, where(`sources[${i}].status`)), note: String(e.note ?? '') };
    }),
    origin,
  };
}

/** The profiles this process knows: the built-in ones and a user's. */
export class SeasonProfiles {
  private readonly byId: Map<string, SeasonProfile>;

  constructor(profiles: readonly SeasonProfile[]) {
    this.byId = new Map(profiles.map((p) => [p.id, p]));
  }

  /** The built-in profiles plus every `*.json` in `dir` (when given and present); a user's file may not
   *  reuse a built-in id or another file's, and a bad file stops start-up with its name and the problem. */
  static async load(dir: string | undefined): Promise<SeasonProfiles> {
    const profiles = [...BUILT_IN_PROFILES];
    const names = dir ? await readdir(dir).catch(() => [] as string[]) : [];
    for (const name of names.filter((n) => n.endsWith('.json')).sort()) {
      const file = path.join(dir!, name);
      let doc: unknown;
      try {
        doc = JSON.parse(await readFile(file, 'utf8'));
      } catch (error) {
        throw badInput(`season profile ${file} is not valid JSON: ${(error as Error).message}`);
      }
      const profile = validateProfile(doc, file);
      const taken = profiles.find((p) => p.id === profile.id);
      if (taken) throw badInput(`season profile ${file} reuses the id "${profile.id}" of ${taken.origin}`);
      profiles.push(profile);
    }
    return new SeasonProfiles(profiles);
  }

  list(): SeasonProfile[] {
    return [...this.byId.values()];
  }

  /** The profile with this id; a bad id is refused with the ids there are. */
  get(id: string): SeasonProfile {
    const profile = this.byId.get(id);
    if (!profile) throw badInput(`unknown season profile "${id}". Choose one of: ${[...this.byId.keys()].join(', ')}`);
    return profile;
  }

  /** A dataset's declared profile, or the default one when it declares none. */
  of(dataset: { seasonProfile: string | null }): { profile: SeasonProfile; declared: boolean } {
    return dataset.seasonProfile
      ? { profile: this.byId.get(dataset.seasonProfile) ?? this.missing(dataset.seasonProfile), declared: true }
      : { profile: this.get(DEFAULT_PROFILE_ID), declared: false };
  }

  private missing(id: string): never {
    throw badInput(`the dataset declares season profile "${id}", which this server does not know (its file left FASHION_HOW_SEASONS_DIR?)`);
  }
}
