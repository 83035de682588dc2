// The Open Inference Protocol (KServe v2 REST, as Triton, KServe, MLServer and OpenVINO serve it) beside
// GraphQL: health, model metadata and readiness, and inference with the protocol's JSON tensors. A model
// name is an alias (champion, challenger: canaries apply), else an ensemble's name, else
// "ensemble-<id>" or "artifact-<id>". Inputs: an image per row as BYTES (base64) with its box as
// [N, 4] (xmin, ymin, xmax, ymax), or a preprocessed FP32 tensor [N, 3, size, size]. Outputs: one FP32
// [N, K] tensor of probabilities per task. The same tokens, read access, per-client concurrency, image
// limits and fair queues as classify; errors answer {"error": "..."} with the status GraphQL's codes map to.
import express, { type ErrorRequestHandler, type Request, type Response } from 'express';
import type { App } from '../app.js';
import { requireRole } from '../auth/tokens.js';
import type { Bbox } from '../domain.js';
import { AppError, badInput, ErrorCode, maskServerPaths, notFound } from '../errors.js';
import { type ModelRef, settingsOf } from '../inference/aliases.js';
import { checkImageCount } from '../inference/classify.js';
import type { ModelInfo } from '../inference/registry.js';
import type { ServeOutcome, ServeRequest } from '../inference/rollout.js';
import { VERSION } from '../version.js';
import { httpStatusOf } from './httpStatus.js';
import { imageBytes } from './resolvers/imageInput.js';

interface TensorInput {
  name: string;
  shape: number[];
  datatype: string;
  data: unknown[];
}

type Target = Pick<ServeRequest, 'model' | 'ensembleId' | 'artifactId'>;

const flat = (data: unknown[]): unknown[] => data.flat(Number.POSITIVE_INFINITY);
const product = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

function tensorOf(value: unknown, where: string): TensorInput {
  const input = value as Partial<TensorInput> | null;
  if (!input || typeof input !== 'object') throw badInput(`${where} must be an object with name, shape, datatype and data`);
  if (typeof input.name !== 'string') throw badInput(`${where}.name must be a string`);
  if (!Array.isArray(input.shape) || !input.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw badInput(`${where}.shape must be a list of sizes`);
  if (typeof input.datatype !== 'string') throw badInput(`${where}.datatype must be a string`);
  if (!Array.isArray(input.data)) throw badInput(`${where}.data must be a list`);
  const data = flat(input.data);
  if (data.length !== product(input.shape))
    throw badInput(`${where} (${input.name}) has ${data.length} values; shape [${input.shape.join(', ')}] needs ${product(input.shape)}`);
  return { name: input.name, shape: input.shape, datatype: input.datatype, data };
}

function numbers(tensor: TensorInput, types: string[]): number[] {
  if (!types.includes(tensor.datatype)) throw badInput(`input ${tensor.name} must be ${types.join(' or ')}, got ${tensor.datatype}`);
  if (!tensor.data.every((v) => typeof v === 'number' && Number.isFinite(v))) throw badInput(`input ${tensor.name} must hold finite numbers`);
  return tensor.data as number[];
}

function send(res: Response, error: unknown, app: App) {
  if (error instanceof AppError) {
    if (error.code === ErrorCode.RATE_LIMITED && typeof error.details?.retryAfterSeconds === 'number')
      res.set('retry-after', String(error.details.retryAfterSeconds));
    res.status(httpStatusOf(error.code)).json({ error: maskServerPaths(error.message) });
    return;
  }
  app.log.error({ err: error }, 'unexpected error in an Open Inference Protocol request');
  res.status(500).json({ error: 'Internal server error' });
}

export function inferenceProtocol(app: App): express.Router {
  const { config, services } = app;
  const router = express.Router();

  /** The caller (read access as for GraphQL queries) and who fair-use limits count the request against. */
  async function clientOf(req: Request) {
    const caller = await services.tokens.authenticate(req.headers.authorization);
    if (!config.anonymousRead) requireRole(caller, 'reader', 'the Open Inference Protocol');
    return caller ? `token ${caller.tokenId}` : `address ${req.ip}`;
  }

  async function targetOf(name: string): Promise<Target> {
    if (await services.aliases.cached(name)) return { model: name };
    const ensemble = await services.db.ensemble.findUnique({ where: { name } });
    if (ensemble) return { ensembleId: ensemble.id };
    const numbered = /^(ensemble|artifact)-(\d{1,15})$/.exec(name);
    if (numbered) return numbered[1] === 'ensemble' ? { ensembleId: Number(numbered[2]) } : { artifactId: Number(numbered[2]) };
    if (name === 'champion') return {};
    throw notFound('model', `"${name}" (an alias, an ensemble's name, ensemble-<id> or artifact-<id>)`);
  }

  /** The artifacts behind a name, read from the database: describing a model never loads it. */
  async function describe(name: string, version?: string) {
    const target = await targetOf(name);
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
    // One version is served under a name: the one it points at now.
    if (version !== undefined && version !== current) throw notFound('version', `"${version}" of model "${name}" (it serves ${current})`);
    return { current, artifacts, infos: artifacts.map((a) => a.modelInfo as unknown as ModelInfo) };
  }

  const handle = (work: (req: Request, res: Response) => Promise<void>) => async (req: Request, res: Response) => {
    try {
      await work(req, res);
    } catch (error) {
      send(res, error, app);
    }
  };

  router.get('/', (_req, res) => {
    res.json({ name: 'fashion-how', version: VERSION, extensions: [] });
  });
  router.get('/health/live', (_req, res) => {
    res.json({ live: true });
  });
  router.get('/health/ready', async (_req, res) => {
    const readiness = await app.readiness();
    // The protocol: 200 means ready, a 4xx status not ready.
    res.status(readiness.ready ? 200 : 400).json({ ready: readiness.ready });
  });

  router.get(
    ['/models/:name', '/models/:name/versions/:version'],
    handle(async (req, res) => {
      await clientOf(req);
      const name = String(req.params.name);
      const { current, infos } = await describe(name, req.params.version === undefined ? undefined : String(req.params.version));
      const sizes = [...new Set(infos.map((info) => info.input.size))];
      res.json({
        name,
        versions: [current],
        platform: 'onnxruntime_onnx',
        inputs: [
          { name: 'image', datatype: 'BYTES', shape: [-1] },
          { name: 'bbox', datatype: 'INT32', shape: [-1, 4] },
          ...(sizes.length === 1 ? [{ name: 'input', datatype: 'FP32', shape: [-1, 3, sizes[0]!, sizes[0]!] }] : []),
        ],
        outputs: infos[0]!.tasks.map((task) => ({ name: task.name, datatype: 'FP32', shape: [-1, task.classes.length] })),
      });
    }),
  );
  router.get(
    ['/models/:name/ready', '/models/:name/versions/:version/ready'],
    handle(async (req, res) => {
      await clientOf(req);
      const { artifacts } = await describe(String(req.params.name), req.params.version === undefined ? undefined : String(req.params.version));
      // Loaded and warm here; the probe itself loads nothing (an alias's models load when it is first used or moved).
      const ready = artifacts.every((a) => services.models.isWarm(a.id));
      res.status(ready ? 200 : 400).json({ name: req.params.name, ready });
    }),
  );

  router.post(
    ['/models/:name/infer', '/models/:name/versions/:version/infer'],
    express.json({ limit: config.maxBodyBytes }),
    handle(async (req, res) => {
      const client = await clientOf(req);
      const name = String(req.params.name);
      if (req.params.version !== undefined) await describe(name, String(req.params.version));
      if (!req.is('application/json'))
        throw badInput('send the request as JSON (content-type: application/json); binary tensor data is not supported: BYTES go as base64 strings');
      const body = req.body as { id?: unknown; inputs?: unknown; outputs?: { name?: unknown }[] } | undefined;
      if (!body || !Array.isArray(body.inputs) || body.inputs.length === 0) throw badInput('the request needs "inputs": a list of tensors');
      const inputs = new Map(body.inputs.map((value, i) => tensorOf(value, `inputs[${i}]`)).map((t) => [t.name, t]));
      const target = await targetOf(name);
      const outcome = await services.clientLimiter.run(client, async (): Promise<ServeOutcome> => {
        const tensor = inputs.get('input');
        if (tensor) {
          if (inputs.size !== 1) throw badInput('give either "input" (FP32) or "image" (BYTES) with "bbox", not both');
          return services.router.serveTensors({ ...target, client }, Float32Array.from(numbers(tensor, ['FP32'])), tensor.shape);
        }
        const image = inputs.get('image');
        const box = inputs.get('bbox');
        if (!image || !box) throw badInput('give "image" (BYTES, base64, shape [N]) and "bbox" ([N, 4]: xmin, ymin, xmax, ymax), or "input" (FP32)');
        if (image.datatype !== 'BYTES') throw badInput(`input image must be BYTES, got ${image.datatype}`);
        const rows = image.data.length;
        const corners = numbers(box, ['INT32', 'INT64', 'UINT32', 'FP32', 'FP64']);
        if (corners.length !== rows * 4) throw badInput(`bbox must hold 4 numbers per image: ${rows} images need shape [${rows}, 4]`);
        // Before any image is decoded: the count is what classify would refuse anyway.
        checkImageCount(rows, config.serving.maxClassifyImages);
        const images = await Promise.all(
          image.data.map(async (value, i) => {
            if (typeof value !== 'string') throw badInput(`image[${i}] must be a base64 string`);
            const [xmin, ymin, xmax, ymax] = corners.slice(i * 4, i * 4 + 4).map(Math.round) as [number, number, number, number];
            const bbox: Bbox = { xmin, ymin, xmax, ymax };
            return { image: await imageBytes({ image: value }, `image[${i}]`, config), bbox };
          }),
        );
        return services.router.serve({ ...target, images, client });
      });
      const tasks = outcome.results[0]!;
      const wanted = Array.isArray(body.outputs) ? new Set(body.outputs.map((o) => String(o?.name))) : null;
      const unknown = wanted ? [...wanted].filter((output) => !tasks.some((task) => task.task === output)) : [];
      if (unknown.length > 0) throw badInput(`unknown output ${unknown.join(', ')}; the outputs are ${tasks.map((task) => task.task).join(', ')}`);
      res.json({
        model_name: name,
        model_version: `${outcome.target.kind}-${outcome.target.id}`,
        ...(typeof body.id === 'string' ? { id: body.id } : {}),
        // The protocol's parameters are scalars: the logged ids as one comma-separated string (empty where not logged).
        parameters: {
          ...(outcome.served.alias ? { alias: outcome.served.alias } : {}),
          role: outcome.served.role,
          model: outcome.target.name,
          prediction_ids: outcome.predictionIds.map((id) => id ?? '').join(','),
        },
        outputs: tasks
          .map((task, t) => ({
            name: task.task,
            datatype: 'FP32',
            shape: [outcome.results.length, task.classes.length],
            data: outcome.results.flatMap((r) => r[t]!.probabilities),
          }))
          .filter((o) => !wanted || wanted.has(o.name)),
      });
    }),
  );
  // A body that is not JSON, or over the limit, answers in the protocol's shape, not GraphQL's.
  const onError: ErrorRequestHandler = (error, _req, res, _next) => {
    const status = typeof error?.status === 'number' && error.status < 500 ? error.status : 500;
    const message =
      error?.type === 'entity.too.large'
        ? `request body is larger than the limit of ${config.maxBodyBytes} bytes (FASHION_HOW_MAX_BODY_BYTES)`
        : status < 500
          ? 'the request body must be JSON (binary tensor data is not supported: send BYTES as base64 strings)'
          : 'Internal server error';
    if (status >= 500) app.log.error({ err: error }, 'unexpected error in an Open Inference Protocol request');
    res.status(status).json({ error: message });
  };
  router.use(onError);
  return router;
}
