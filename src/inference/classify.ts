// classify: decode + crop + letterbox each image once per distinct preprocessing among the models,
// send the tensors through each model's micro-batcher, and soft-vote: the weighted mean of the members'
// per-task probabilities (each after its fitted temperature, if any), then the ensemble's logit
// adjustment, if it has one.
import type { ImageLimits } from '../config.js';
import { letterbox, type PreprocessSpec, preprocess } from '../data/image.js';
import type { Bbox } from '../domain.js';
import { AppError, badInput, ErrorCode, notFound } from '../errors.js';
import { adjustForPrior, withTemperature } from './ensembleFit.js';
import type { EnsembleService, LogitAdjustment } from './ensembles.js';
import type { LoadedModel, ModelPool } from './models.js';
import { preprocessSpecOf } from './registry.js';
import { FairScheduler } from './scheduler.js';

export interface ClassifyRequest {
  images: { image: Buffer; bbox: Bbox }[];
  ensembleId?: number;
  artifactId?: number;
  includeMembers?: boolean;
  /** Who asks (token or address; the platform's own work has its own name): the batchers' fair share. */
  client?: string;
}

export interface MemberVote {
  artifactId: number;
  weight: number;
  probabilities: number[];
}

export interface TaskResult {
  task: string;
  classes: string[];
  probabilities: number[];
  /** The plain soft vote, when the ensemble's logit adjustment made `probabilities` differ from it. */
  softVote?: number[];
  members?: MemberVote[];
}

export interface ClassifyOutcome {
  target: { kind: 'ensemble' | 'artifact'; id: number; name: string; labelSchemaId: number };
  results: TaskResult[][];
}

export class ClassifyService {
  constructor(
    private readonly pool: ModelPool,
    private readonly ensembles: EnsembleService,
    private readonly limits: { maxImages: number; image: ImageLimits; preprocessingThreads: number },
  ) {
    this.preprocessing = new FairScheduler(limits.preprocessingThreads);
  }

  /** sharp's work, taken round-robin across clients; as many at once as libuv has threads for it. */
  private readonly preprocessing: FairScheduler;

  /** Images one client may hold in a model's queue while others wait: the platform's own work sizes
   *  its requests to fit. */
  get clientShare(): number {
    return this.pool.clientShare;
  }

  /** The models a request votes with, and their weights. */
  async members(request: Pick<ClassifyRequest, 'ensembleId' | 'artifactId'>) {
    if (request.ensembleId !== undefined && request.artifactId !== undefined) throw badInput('give ensembleId or artifactId, not both');
    if (request.artifactId !== undefined) {
      const model = await this.pool.get(request.artifactId);
      return {
        target: { kind: 'artifact' as const, id: model.artifact.id, name: model.artifact.name, labelSchemaId: model.artifact.labelSchemaId },
        members: [{ model, weight: 1, temperatures: null }],
        adjustment: null,
      };
    }
    const ensemble = request.ensembleId !== undefined ? await this.ensembles.get(request.ensembleId) : await this.ensembles.getDefault();
    if (!ensemble) throw notFound('default ensemble', '(none set): create one with createEnsemble, or pass artifactId');
    const rows = await this.ensembles.members(ensemble.id);
    const members = await Promise.all(
      rows.map(async (m) => ({ model: await this.pool.get(m.artifactId), weight: m.weight, temperatures: m.temperatures as number[] | null })),
    );
    return {
      target: { kind: 'ensemble' as const, id: ensemble.id, name: ensemble.name, labelSchemaId: ensemble.labelSchemaId },
      members,
      adjustment: ensemble.logitAdjustment as LogitAdjustment | null,
    };
  }

  /** A client's request: the per-request image limit applies. */
  async classify(request: ClassifyRequest): Promise<ClassifyOutcome> {
    checkImageCount(request.images.length, this.limits.maxImages);
    return this.score(request);
  }

  /** One image's 8-bit letterboxed input for a spec, taken through the same fair preprocessing queue. */
  letterbox(image: Buffer, bbox: Bbox, spec: PreprocessSpec, client = '') {
    return this.preprocessing.run(client, () => letterbox(image, bbox, spec, this.limits.image));
  }

  /** Scores any number of images (the platform's own work, e.g. evaluation); each image's limits still apply. */
  async score(request: ClassifyRequest): Promise<ClassifyOutcome> {
    const { images } = request;
    const plan = await this.members(request);
    const specs = specsOf(plan.members);

    // Every image is preprocessed once per distinct spec before any model is asked, so a request's rows
    // enter each model's queue together (admitted or refused as one).
    const tensors = await Promise.all(
      images.map(async ({ image, bbox }, index) => {
        const bySpec = new Map<string, Float32Array>();
        for (const [key, spec] of specs) {
          try {
            bySpec.set(key, (await this.preprocessing.run(request.client ?? '', () => preprocess(image, bbox, spec, this.limits.image))).tensor);
          } catch (error) {
            throw imageError(error, `images[${index}]`);
          }
        }
        return bySpec;
      }),
    );
    return { target: plan.target, results: await this.vote(plan, tensors, request) };
  }

  /** Scores model inputs a client preprocessed itself ([N, 3, size, size] float32, row-major): only a model
   *  whose members share one preprocessing can take them, at its size. */
  async scoreTensors(request: Pick<ClassifyRequest, 'ensembleId' | 'artifactId' | 'client'>, data: Float32Array, shape: number[]): Promise<ClassifyOutcome> {
    const plan = await this.members(request);
    const specs = specsOf(plan.members);
    if (specs.size !== 1) throw badInput(`${plan.target.name} preprocesses images in ${specs.size} different ways: send images (BYTES), not a tensor`);
    const [key, spec] = [...specs][0]!;
    const expected = [shape[0]!, 3, spec.size, spec.size];
    if (shape.length !== 4 || shape.some((d, i) => d !== expected[i])) {
      throw badInput(`the tensor's shape is [${shape.join(', ')}]; ${plan.target.name} takes [N, 3, ${spec.size}, ${spec.size}] (letterboxed, normalised RGB)`);
    }
    const rows = shape[0]!;
    checkImageCount(rows, this.limits.maxImages);
    const size = 3 * spec.size * spec.size;
    if (data.length !== rows * size) throw badInput(`the tensor has ${data.length} values; shape [${shape.join(', ')}] needs ${rows * size}`);
    const tensors = Array.from({ length: rows }, (_, r) => new Map([[key, data.subarray(r * size, (r + 1) * size)]]));
    return { target: plan.target, results: await this.vote(plan, tensors, { client: request.client }) };
  }

  /** Runs prepared tensors (one per distinct preprocessing spec, per image) through every member's
   *  batcher and soft-votes: classify and the occlusion maps share this one path. */
  async vote(plan: VotePlan, tensors: Map<string, Float32Array>[], options: { includeMembers?: boolean; client?: string }): Promise<TaskResult[][]> {
    const { members, adjustment } = plan;
    const totalWeight = members.reduce((sum, m) => sum + m.weight, 0);
    const outputs = await Promise.all(
      members.map(({ model }) =>
        model.batcher.submitAll(
          tensors.map((t) => t.get(specKey(model))!),
          options.client,
        ),
      ),
    );
    return tensors.map((_, index) => {
      const votes = outputs.map((perImage) => perImage[index]!);
      const tasks = members[0]!.model.info.tasks;
      return tasks.map((task, t): TaskResult => {
        const vote = new Array<number>(task.classes.length).fill(0);
        const memberVotes: MemberVote[] = members.map(({ model, weight, temperatures }, m) => {
          const output = Array.from(votes[m]![model.info.tasks[t]!.output]!);
          const scaled = temperatures ? withTemperature(output, temperatures[t]!) : output;
          scaled.forEach((p, k) => {
            vote[k]! += (weight / totalWeight) * p;
          });
          return { artifactId: model.artifact.id, weight, probabilities: output };
        });
        const adjusted = adjustment && adjustment.tasks[t]!.tau !== 0 ? adjustForPrior(vote, adjustment.tasks[t]!.logPrior, adjustment.tasks[t]!.tau) : null;
        return {
          task: task.name,
          classes: task.classes,
          probabilities: adjusted ?? vote,
          ...(adjusted ? { softVote: vote } : {}),
          ...(options.includeMembers ? { members: memberVotes } : {}),
        };
      });
    });
  }
}

/** A client's request holds 1 to `maxImages` images (FASHION_HOW_MAX_CLASSIFY_IMAGES), whichever way they come. */
export function checkImageCount(count: number, maxImages: number) {
  if (count === 0) throw badInput('images must hold at least one image');
  if (count > maxImages) throw badInput(`a request may classify at most ${maxImages} images (FASHION_HOW_MAX_CLASSIFY_IMAGES); this one has ${count}`);
}

/** The models a request votes with: what members() answers. */
export type VotePlan = Awaited<ReturnType<ClassifyService['members']>>;

/** A preprocessing failure of one image, named as the request names it (e.g. images[2]). */
export function imageError(error: unknown, where: string): unknown {
  return error instanceof AppError && error.code === ErrorCode.BAD_USER_INPUT ? badInput(`${where}: ${error.message}`) : error;
}

/** The distinct preprocessing specs of the members, by key (members of one size share one). */
export function specsOf(members: VotePlan['members']): Map<string, PreprocessSpec> {
  return new Map(members.map(({ model }): [string, PreprocessSpec] => [specKey(model), specOf(model)]));
}

const specOf = (model: LoadedModel): PreprocessSpec => preprocessSpecOf(model.info.input);

export const specKey = (model: LoadedModel) => JSON.stringify(specOf(model));
