// The Open Inference Protocol (KServe v2 REST, as Triton, KServe, MLServer and OpenVINO serve it) beside
// GraphQL: a thin transport over the data plane (dataPlane.ts), which names models, checks, limits and
// serves the same way for both. Here: the routes, the protocol's JSON tensors read and written (an image
// per row as BYTES, base64, with its box as [N, 4] (xmin, ymin, xmax, ymax), or a preprocessed FP32
// tensor [N, 3, size, size]; out, one FP32 [N, K] tensor of probabilities per task), and errors in the
// protocol's shape, {"error": "..."}, with the status the one error table gives their code.
import express, { type ErrorRequestHandler, type NextFunction, type Request, type Response } from 'express';
import type { App } from '../app.js';
import type { AppConfig } from '../config.js';
import { badInput, ErrorCode } from '../errors.js';
import { VERSION } from '../version.js';
import { authenticateFirst, bodyLimitOf, jsonBodyByCaller, tooLargeMessage } from './bodyLimits.js';
import { reader } from './callers.js';
import { describeModel, type ImageSource, infer, inferTensor, modelReady } from './dataPlane.js';
import { errorAnswer } from './errors.js';
import { imageBytes } from './imageInput.js';

interface TensorInput {
  name: string;
  shape: number[];
  datatype: string;
  data: unknown[];
}

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
  const answer = errorAnswer(error);
  if (!answer.known) app.log.error({ err: error }, 'unexpected error in an Open Inference Protocol request');
  if (answer.code === ErrorCode.RATE_LIMITED && typeof answer.details.retryAfterSeconds === 'number')
    res.set('retry-after', String(answer.details.retryAfterSeconds));
  res.status(answer.status).json({ error: answer.message });
}

/** The request's rows as the data plane takes them: "image" (BYTES) with "bbox", each image read in the
 *  client's slot. */
function imageRows(inputs: Map<string, TensorInput>, config: AppConfig): ImageSource[] {
  const image = inputs.get('image');
  const box = inputs.get('bbox');
  if (!image || !box) throw badInput('give "image" (BYTES, base64, shape [N]) and "bbox" ([N, 4]: xmin, ymin, xmax, ymax), or "input" (FP32)');
  if (image.datatype !== 'BYTES') throw badInput(`input image must be BYTES, got ${image.datatype}`);
  const rows = image.data.length;
  const corners = numbers(box, ['INT32', 'INT64', 'UINT32', 'FP32', 'FP64']);
  if (corners.length !== rows * 4) throw badInput(`bbox must hold 4 numbers per image: ${rows} images need shape [${rows}, 4]`);
  return image.data.map((value, i) => async () => {
    if (typeof value !== 'string') throw badInput(`image[${i}] must be a base64 string`);
    const [xmin, ymin, xmax, ymax] = corners.slice(i * 4, i * 4 + 4).map(Math.round) as [number, number, number, number];
    return { image: await imageBytes({ image: value }, `image[${i}]`, config), bbox: { xmin, ymin, xmax, ymax } };
  });
}

export function inferenceProtocol(app: App): express.Router {
  const { config } = app;
  const router = express.Router();

  /** The caller (read access as for GraphQL queries) and who fair-use limits count the request against. */
  async function clientOf(req: Request, res: Response) {
    return (await reader(app, req, res, 'the Open Inference Protocol')).client;
  }

  const versionOf = (req: Request) => (req.params.version === undefined ? undefined : String(req.params.version));

  const handle = (work: (req: Request, res: Response, next: NextFunction) => Promise<void>) => async (req: Request, res: Response, next: NextFunction) => {
    try {
      await work(req, res, next);
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
      await clientOf(req, res);
      const name = String(req.params.name);
      const { version, inputSizes: sizes, tasks } = await describeModel(app, name, versionOf(req));
      res.json({
        name,
        versions: [version],
        platform: 'onnxruntime_onnx',
        inputs: [
          { name: 'image', datatype: 'BYTES', shape: [-1] },
          { name: 'bbox', datatype: 'INT32', shape: [-1, 4] },
          ...(sizes.length === 1 ? [{ name: 'input', datatype: 'FP32', shape: [-1, 3, sizes[0]!, sizes[0]!] }] : []),
        ],
        outputs: tasks.map((task) => ({ name: task.name, datatype: 'FP32', shape: [-1, task.classes.length] })),
      });
    }),
  );
  router.get(
    ['/models/:name/ready', '/models/:name/versions/:version/ready'],
    handle(async (req, res) => {
      await clientOf(req, res);
      const ready = await modelReady(app, String(req.params.name), versionOf(req));
      res.status(ready ? 200 : 400).json({ name: req.params.name, ready });
    }),
  );

  router.post(
    ['/models/:name/infer', '/models/:name/versions/:version/infer'],
    // Who asks is known before the body is read: a bad token, or none where reads need one, is refused
    // unread, and a request without a token may send only a small body.
    authenticateFirst(app, (res, error) => send(res, error, app)),
    handle(async (req, res, next) => {
      await clientOf(req, res);
      next();
    }),
    jsonBodyByCaller(app),
    handle(async (req, res) => {
      const client = await clientOf(req, res);
      const name = String(req.params.name);
      const version = versionOf(req);
      if (version !== undefined) await describeModel(app, name, version);
      if (!req.is('application/json'))
        throw badInput('send the request as JSON (content-type: application/json); binary tensor data is not supported: BYTES go as base64 strings');
      const body = req.body as { id?: unknown; inputs?: unknown; outputs?: { name?: unknown }[] } | undefined;
      if (!body || !Array.isArray(body.inputs) || body.inputs.length === 0) throw badInput('the request needs "inputs": a list of tensors');
      const inputs = new Map(body.inputs.map((value, i) => tensorOf(value, `inputs[${i}]`)).map((t) => [t.name, t]));
      const tensor = inputs.get('input');
      if (tensor && inputs.size !== 1) throw badInput('give either "input" (FP32) or "image" (BYTES) with "bbox", not both');
      const outcome = tensor
        ? await inferTensor(app, client, { name }, Float32Array.from(numbers(tensor, ['FP32'])), tensor.shape)
        : await infer(app, client, { name }, imageRows(inputs, config));
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
        ? tooLargeMessage(bodyLimitOf(res, { bytes: config.maxBodyBytes, describe: '(FASHION_HOW_MAX_BODY_BYTES)' }))
        : status < 500
          ? 'the request body must be JSON (binary tensor data is not supported: send BYTES as base64 strings)'
          : 'Internal server error';
    if (status >= 500) app.log.error({ err: error }, 'unexpected error in an Open Inference Protocol request');
    res.status(status).json({ error: message });
  };
  router.use(onError);
  return router;
}
