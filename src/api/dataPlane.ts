// The data plane every serving protocol stands on, the way KServe's model server keeps one under its REST
// and gRPC transports: one naming of models, the checks a request passes before it takes model time, the
// per-client limit, the call into the router, and what a model says of itself (metadata, readiness).
// GraphQL's classify and saliency and the Open Inference Protocol's routes are thin transports over it:
// each turns its wire format into these calls, and its errors into its own shape through one table
// (errors.ts, httpStatus.ts), so a second protocol cannot drift from the first.
import type { AppConfig } from '../config.js';
import type { Bbox } from '../domain.js';
import { badInput, notFound } from '../errors.js';
import { CHAMPION, type ModelRef, settingsOf } from '../inference/aliases.js';
import { checkImageCount } from '../inference/classify.js';
import type { ModelInfo } from '../inference/registry.js';
import type { ServeOutcome, ServeRequest } from '../inference/rollout.js';
import { saliency } from '../inference/saliency.js';
import type { Services } from './context.js';

/** What the data plane works with: the App, or a GraphQL request's context. */
export interface Serving {
  services: Services;
  config: AppConfig;
}

/**
 * A model as a request names it, the same in every protocol: `name` is an alias (its canary, shadow and
 * log apply), else an ensemble's name, else "ensemble-<id>" or "artifact-<id>"; GraphQL may give an id
 * instead of a name. Nothing named: the champion alias (the default ensemble until one is set).
 */
export interface ModelName {
  name?: string;
  ensembleId?: number;
  artifactId?: number;
}

/** What the router is asked for: an alias by name, or a model by id. */
export type ModelTarget = Pick<ServeRequest, 'model' | 'ensembleId' | 'artifactId'>;

/** An image the client sent, read (decoded, fetched) only once its request holds one of the client's slots. */
export type ImageSource = () => Promise<{ image: Buffer; bbox: Bbox }>;

/** What describing a model answers: the version its name serves now, and what that version takes and answers. */
export interface ModelDescription {
  /** "ensemble-<id>" or "artifact-<id>": one version is served under a name, the one it points at now. */
  version: string;
  artifactIds: number[];
  /** The input sizes of the members (one size: a client may send preprocessed tensors of it). */
  inputSizes: number[];
  tasks: { name: string; classes: string[] }[];
}

const NUMBERED = /^(ensemble|artifact)-(\d{1,15})$/;

/** The one naming of models: what a name (or an id) asks the router for; NOT_FOUND for a name that is none of them. */
export async function resolveModel({ services }: Serving, { name, ensembleId, artifactId }: ModelName): Promise<ModelTarget> {
  if (name === undefined) return { ...(ensembleId !== undefined ? { ensembleId } : {}), ...(artifactId !== undefined ? { artifactId } : {}) };
  if (ensembleId !== undefined || artifactId !== undefined) throw badInput('give model (a name) or ensembleId or artifactId, not both');
  if (await services.aliases.cached(name)) return { model: name };
  const ensemble = await services.db.ensemble.findUnique({ where: { name } });
  if (ensemble) return { ensembleId: ensemble.id };
  const numbered = NUMBERED.exec(name);
  if (numbered) return numbered[1] === 'ensemble' ? { ensembleId: Number(numbered[2]) } : { artifactId: Number(numbered[2]) };
  // No champion alias yet: the router answers with the default ensemble.
  if (name === CHAMPION) return {};
  throw notFound('alias', `"${name}"`);
}

/** The artifacts behind a name, read from the database: describing a model never loads it. NOT_FOUND for
 *  a `version` other than the one the name serves. */
async function artifactsOf(serving: Serving, name: string, version?: string) {
  const { services } = serving;
  const target = await resolveModel(serving, { name });
  // An alias's metadata is its target's (a canary's candidate answers the same tasks).
  const alias = target.model ? await services.aliases.cached(target.model) : null;
  const ref: ModelRef | null = alias
    ? settingsOf(alias).target
    : target.ensembleId !== undefined
      ? { kind: 'ensemble', id: target.ensembleId }
      : target.artifactId !== undefined
        ? { kind: 'artifact', id: target.artifactId }
        : null;
  const ensembleId = ref ? (ref.kind === 'ensemble' ? ref.id : null) : ((await services.ensembles.getDefault())?.id ?? null);
  if (!ref && ensembleId === null) throw notFound('model', `"${name}" (no champion alias and no default ensemble)`);
  const artifactIds = ensembleId !== null ? (await services.ensembles.members(ensembleId)).map((m) => m.artifactId) : [ref!.id];
  const artifacts = await services.db.modelArtifact.findMany({ where: { id: { in: artifactIds } } });
  if (artifacts.length === 0) throw notFound('model', `"${name}"`);
  const current = ensembleId !== null ? `ensemble-${ensembleId}` : `artifact-${ref!.id}`;
  if (version !== undefined && version !== current) throw notFound('version', `"${version}" of model "${name}" (it serves ${current})`);
  return { version: current, artifacts };
}

/** What the model a name serves takes and answers. */
export async function describeModel(serving: Serving, name: string, version?: string): Promise<ModelDescription> {
  const { version: current, artifacts } = await artifactsOf(serving, name, version);
  const infos = artifacts.map((a) => a.modelInfo as unknown as ModelInfo);
  return {
    version: current,
    artifactIds: artifacts.map((a) => a.id),
    inputSizes: [...new Set(infos.map((info) => info.input.size))],
    tasks: infos[0]!.tasks.map((task) => ({ name: task.name, classes: task.classes })),
  };
}

/** Whether every model behind a name is loaded and warm here; asking loads nothing (an alias's models load
 *  when it is first used or moved). */
export async function modelReady(serving: Serving, name: string, version?: string): Promise<boolean> {
  const { artifacts } = await artifactsOf(serving, name, version);
  return artifacts.every((a) => serving.services.models.isWarm(a.id));
}

/** Classifies a client's images with the model named, in one of the client's slots. */
export async function infer(
  serving: Serving,
  client: string,
  model: ModelName,
  images: ImageSource[],
  options: { includeMembers?: boolean } = {},
): Promise<ServeOutcome> {
  const { services, config } = serving;
  const target = await resolveModel(serving, model);
  return services.clientLimiter.run(client, async () => {
    // Before any image is read: the count is what the model would refuse anyway.
    checkImageCount(images.length, config.serving.maxClassifyImages);
    const read = await Promise.all(images.map((image) => image()));
    return services.router.serve({ ...target, images: read, includeMembers: options.includeMembers ?? false, client });
  });
}

/** Scores model inputs the client preprocessed itself ([N, 3, size, size] float32), in one of its slots. */
export async function inferTensor(serving: Serving, client: string, model: ModelName, data: Float32Array, shape: number[]): Promise<ServeOutcome> {
  const target = await resolveModel(serving, model);
  return serving.services.clientLimiter.run(client, () => serving.services.router.serveTensors({ ...target, client }, data, shape));
}

/** An occlusion map of one image: its copies are model time like classify's images, so the same
 *  per-client limit applies. A model by id, else the default ensemble (the platform's own default). */
export async function explain({ services }: Serving, client: string, model: Pick<ModelName, 'ensembleId' | 'artifactId'>, image: ImageSource, grid?: number) {
  return services.clientLimiter.run(client, async () => saliency(services.classify, { ...(await image()), ...model, grid, client }));
}
