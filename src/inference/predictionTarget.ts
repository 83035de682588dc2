// What a prediction job scores, fixed when the job is made: the model a request names (an alias is read
// once, so a resumed job scores with the same model), checked against the dataset's label space and,
// when the dataset declares a season, against that season's rules: a job for a submission refuses a
// model the season rejects unless the request overrides the verdict, and then the job records it.
import type { Db } from '../db/client.js';
import type { TaskSpec } from '../domain.js';
import { badInput, notFound } from '../errors.js';
import { CHAMPION, type ModelRef, settingsOf } from './aliases.js';

export interface PredictionModelRequest {
  /** An alias (champion, challenger, ...); absent with no ensemble or artifact: champion. */
  model?: string;
  ensembleId?: number;
  artifactId?: number;
  /** Score with a model the dataset's season rejects (the job records the override). */
  ignoreSeason?: boolean;
}

/** What the alias service and the ensembles answer about a model, to fix a job's model when it is made. */
export interface ModelDirectory {
  aliases: { cached(name: string): Promise<Parameters<typeof settingsOf>[0] | null> };
  ensembles: { getDefault(): Promise<{ id: number } | null> };
}

/** The season service's judgement, as the job needs it: declared here because seasons/ stands above
 *  inference. `Profile` is the service's own season profile, handed back to judge as profiles.of gave it. */
export interface SeasonJudge<Profile extends { id: string }> {
  profiles: { of(dataset: { seasonProfile: string | null }): { profile: Profile; declared: boolean } };
  judge(target: ModelRef, profile: Profile): Promise<{ checks: { rule: string; ok: boolean; detail: string }[] }>;
}

export interface PredictionTarget {
  alias: string | null;
  ref: ModelRef;
  modelName: string;
  /** The dataset's season, the checks the model failed ("rule: detail") and whether the request overrode them; null: no season declared. */
  season: { profile: string; reasons: string[]; overridden: boolean } | null;
}

/** The model a request names: an alias is read once, now. */
async function resolveModel(directory: ModelDirectory, request: PredictionModelRequest): Promise<{ alias: string | null; ref: ModelRef }> {
  const direct = [request.ensembleId, request.artifactId].filter((id) => id !== undefined);
  if (direct.length > 1 || (direct.length === 1 && request.model !== undefined)) throw badInput('give one of model (an alias), ensembleId or artifactId');
  if (request.ensembleId !== undefined) return { alias: null, ref: { kind: 'ensemble', id: request.ensembleId } };
  if (request.artifactId !== undefined) return { alias: null, ref: { kind: 'artifact', id: request.artifactId } };
  const alias = request.model ?? CHAMPION;
  const row = await directory.aliases.cached(alias);
  if (row) return { alias, ref: settingsOf(row).target };
  const fallback = alias === CHAMPION ? await directory.ensembles.getDefault() : null;
  if (!fallback) throw notFound('alias', `"${alias}"`);
  return { alias, ref: { kind: 'ensemble', id: fallback.id } };
}

/** The model a job over `dataset` will score, refused when it cannot answer the dataset's label space or
 *  when the dataset's season rejects it and the request does not override that. */
export async function fixTarget<Profile extends { id: string }>(
  db: Db,
  directory: ModelDirectory,
  seasons: SeasonJudge<Profile>,
  dataset: { id: number; seasonProfile: string | null; labelSchema: { tasks: unknown } },
  request: PredictionModelRequest,
): Promise<PredictionTarget> {
  const { alias, ref } = await resolveModel(directory, request);
  const model =
    ref.kind === 'ensemble' ? await db.ensemble.findUnique({ where: { id: ref.id } }) : await db.modelArtifact.findUnique({ where: { id: ref.id } });
  if (!model) throw notFound(ref.kind, ref.id);
  const modelSchema = await db.labelSchema.findUniqueOrThrow({ where: { id: model.labelSchemaId } });
  const counts = (tasks: unknown) => (tasks as TaskSpec[]).map((t) => t.classes.length).join('/');
  if (counts(modelSchema.tasks) !== counts(dataset.labelSchema.tasks)) {
    throw badInput(
      `${ref.kind} ${ref.id} ("${model.name}") answers ${counts(modelSchema.tasks)} classes per task; dataset ${dataset.id} declares ${counts(dataset.labelSchema.tasks)}`,
    );
  }
  const { profile, declared } = seasons.profiles.of(dataset);
  if (!declared) return { alias, ref, modelName: model.name, season: null };
  const verdict = await seasons.judge(ref, profile);
  const reasons = verdict.checks.filter((c) => !c.ok).map((c) => `${c.rule}: ${c.detail}`);
  if (reasons.length > 0 && !request.ignoreSeason) {
    throw badInput(
      `dataset ${dataset.id} is entered in season ${profile.id}, which rejects ${ref.kind} ${ref.id} ("${model.name}"): ${reasons.join('; ')}. ` +
        'Set ignoreSeason (fashion-how predict --ignore-season) to score with it anyway; the job then records the override',
      { season: profile.id, reasons },
    );
  }
  return { alias, ref, modelName: model.name, season: { profile: profile.id, reasons, overridden: reasons.length > 0 } };
}
