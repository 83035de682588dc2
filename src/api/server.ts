// The HTTP server: GraphQL at /graphql (HTTP, and WebSocket for subscriptions), the Open Inference
// Protocol at /v2, the dashboard at /, item crops, /healthz, /readyz and /metrics. Every error leaves through errors.ts, which keeps codes stable
// and hides internals.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { expressMiddleware } from '@as-integrations/express5';
import { costLimitRule } from '@escape.tech/graphql-armor-cost-limit';
import { maxDepthRule } from '@escape.tech/graphql-armor-max-depth';
import { makeExecutableSchema } from '@graphql-tools/schema';
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import { GraphQLError, type ValidationContext } from 'graphql';
import type { App } from '../app.js';
import { cropPreview, photoPreview } from '../data/image.js';
import { PACKAGE_ROOT } from '../db/migrate.js';
import type { Bbox } from '../domain.js';
import { AppError, ErrorCode } from '../errors.js';
import type { TableFormat } from '../inference/predictionJobs.js';
import { authenticateFirst, bodyLimitOf, jsonBodyByCaller, tooLargeMessage } from './bodyLimits.js';
import { callerOfRequest, clientKey, reader } from './callers.js';
import { RETRY_AFTER_SECONDS } from './clientLimiter.js';
import type { Context } from './context.js';
import { errorFormatter, sendError } from './errors.js';
import { HeavyReads, photoKey } from './heavyReads.js';
import { httpStatusOf } from './httpStatus.js';
import { inferenceProtocol } from './inferenceProtocol.js';
import { knownOperationNames } from './operationNames.js';
import { hostProblem } from './origins.js';
import { metricsPlugin } from './plugins/metrics.js';
import { operationBudgetPlugin } from './plugins/operationBudget.js';
import { readAccessError, readAccessPlugin } from './plugins/readAccess.js';
import { retryAfterPlugin } from './plugins/retryAfter.js';
import { MAX_HELD_PER_CLIENT, REFUSAL_BURST, RefusalGate } from './refusalGate.js';
import { resolvers } from './resolvers/index.js';
import { acceptOldRoleNames } from './resolvers/Role.js';
import { serveSubscriptions } from './subscriptions.js';
import { BufferedUploads, uploadMiddleware } from './uploads.js';

/** graphql-armor's rules throw by default, which Apollo answers as an internal error; reported as
 *  validation errors they reach the client as GRAPHQL_VALIDATION_FAILED with the limit in the message. */
const reportInsteadOfThrowing = {
  exposeLimits: true,
  ignoreIntrospection: true,
  propagateOnRejection: false,
  onReject: [(context: ValidationContext | null, error: GraphQLError) => context?.reportError(new GraphQLError(error.message.replace(/^Syntax Error: /, '')))],
};

export interface RunningServer {
  url: string;
  graphqlUrl: string;
  close(): Promise<void>;
}

export async function startServer(app: App): Promise<RunningServer> {
  const { config, log } = app;
  const expressApp = express();
  expressApp.disable('x-powered-by');
  const httpServer = http.createServer(expressApp);
  // Idle keep-alive connections are closed by the client (or its proxy) first: with Node's default of
  // 5 s the server sometimes closed one just as a busy client reused it, which that client saw as
  // ECONNRESET (0.35 % of requests in the soak at twice capacity; none with this).
  httpServer.keepAliveTimeout = 65_000;
  httpServer.headersTimeout = 66_000;
  const { graphql } = config;
  const schema = makeExecutableSchema({ typeDefs: await readFile(path.join(PACKAGE_ROOT, 'schema.graphql'), 'utf8'), resolvers });
  acceptOldRoleNames(schema);
  const validationRules = [
    maxDepthRule({ n: graphql.maxDepth, ...reportInsteadOfThrowing }),
    costLimitRule({ maxCost: graphql.maxCost, ...reportInsteadOfThrowing }),
  ];
  const formatError = errorFormatter(log);
  const knownOperations = knownOperationNames();
  const heavyReads = new HeavyReads(config.guards);
  const bufferedUploads = new BufferedUploads(config.maxBodyBytes, config.guards.maxClientUploadBytes);
  const operationLimits = {
    maxImages: config.serving.maxClassifyImages,
    imageCost: graphql.classifyImageCost,
    maxCost: graphql.maxCost,
    modelCardCost: config.guards.modelCardCost,
    maxResponseNodes: config.guards.maxResponseNodes,
  };
  const subscriptions = serveSubscriptions(app, {
    httpServer,
    path: '/graphql',
    schema,
    validationRules,
    readAccess: (caller, operation) => readAccessError(config.anonymousRead, caller, operation),
    formatError,
    knownOperations,
    operationLimits,
    heavyReads,
  });
  const apollo = new ApolloServer<Context>({
    schema,
    formatError,
    includeStacktraceInErrorResponses: false,
    introspection: graphql.introspection,
    validationRules,
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer }),
      // Open WebSockets end (clients see 1001 Going away) before the HTTP server drains.
      { serverWillStart: async () => ({ drainServer: async () => subscriptions.dispose() }) },
      metricsPlugin(app.services.metrics, knownOperations),
      readAccessPlugin(config.anonymousRead),
      operationBudgetPlugin(operationLimits),
      retryAfterPlugin(),
      ...(graphql.landingPage ? [] : [ApolloServerPluginLandingPageDisabled()]),
    ],
  });
  await apollo.start();

  // On a loopback bind, only requests for a loopback host (DNS rebinding: see origins.ts).
  expressApp.use((req, res, next) => {
    const problem = hostProblem(config.host, req.headers.host);
    if (problem) sendError(res, ErrorCode.FORBIDDEN, problem);
    else next();
  });

  // Before anything is read: a client that keeps collecting refusals is held back (see refusalGate.ts).
  const refusals = new RefusalGate({ perSecond: config.guards.clientRefusalsPerSecond, burst: REFUSAL_BURST, maxHeld: MAX_HELD_PER_CLIENT });
  expressApp.use(['/graphql', '/v2', '/items', '/predictions'], refusals.middleware());

  expressApp.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });
  expressApp.get('/readyz', async (_req, res) => {
    const readiness = await app.readiness();
    res.status(readiness.ready ? 200 : 503).json(readiness);
  });
  expressApp.get('/metrics', async (_req, res) => {
    await app.services.drift.refreshGauges().catch((error: unknown) => log.warn({ err: error }, 'could not read the latest drift reports'));
    res.type(app.services.metrics.registry.contentType).send(await app.services.metrics.registry.metrics());
  });
  expressApp.use('/v2', inferenceProtocol(app));
  expressApp.use(
    '/graphql',
    authenticateFirst(app, (res, error) => sendError(res, error.code, error.message)),
    uploadMiddleware({
      maxFileBytes: Math.max(config.imageLimits.maxBytes, config.maxModelBytes, config.imports.maxUploadBytes),
      maxFiles: Math.max(config.serving.maxClassifyImages, 2),
    }),
    jsonBodyByCaller(app),
    expressMiddleware(apollo, {
      context: async ({ req, res }) => {
        try {
          const caller = await callerOfRequest(app, req, res);
          const client = clientKey(caller, req.ip);
          const uploads = bufferedUploads.open(client);
          res.once('close', () => uploads.close());
          return { config, services: app.services, caller, client, heavyReads, uploads };
        } catch (error) {
          if (error instanceof AppError)
            throw new GraphQLError(error.message, { extensions: { code: error.code, http: { status: httpStatusOf(error.code) } } });
          throw error;
        }
      },
    }),
  );
  // Item crops and photos for the dashboard; the same read access as queries (a token may come as a header).
  // Each decodes a whole photo: a heavy read (the client's limit, the fair queue, cached by the photo's hash).
  const itemImage =
    (kind: string, make: (photo: Buffer, bbox: Bbox) => Promise<Buffer>): RequestHandler =>
    async (req, res) => {
      try {
        const { client } = await reader(app, req, res, 'item images');
        const id = Number(req.params.id);
        if (!Number.isSafeInteger(id)) {
          sendError(res, ErrorCode.NOT_FOUND, `item ${req.params.id} does not exist`);
          return;
        }
        let photo: { image: Buffer; bbox: Bbox } | undefined;
        const jpeg = await heavyReads.read(
          client,
          async () => {
            // The same read as classify-by-itemId: NOT_FOUND for no such item, UNAVAILABLE for an unreadable photo.
            photo = await app.services.datasets.itemPhoto(id);
            const { xmin, ymin, xmax, ymax } = photo.bbox;
            return `${kind}:${photoKey(photo.image)}:${kind === 'crop' ? `${xmin},${ymin},${xmax},${ymax}` : ''}`;
          },
          () => make(photo!.image, photo!.bbox),
        );
        res.type('image/jpeg').set('cache-control', 'max-age=3600').send(jpeg);
      } catch (error) {
        const known = error instanceof AppError;
        if (!known) log.error({ err: error }, 'could not make an item image');
        if (known && error.code === ErrorCode.RATE_LIMITED) res.set('retry-after', String(error.details?.retryAfterSeconds ?? RETRY_AFTER_SECONDS));
        if (known) sendError(res, error.code, error.message);
        else sendError(res, ErrorCode.INTERNAL_SERVER_ERROR, 'Internal server error');
      }
    };
  expressApp.get(
    '/items/:id/crop.jpg',
    itemImage('crop', (photo, bbox) => cropPreview(photo, bbox, 192, config.imageLimits)),
  );
  expressApp.get(
    '/items/:id/photo.jpg',
    itemImage('photo', (file) => photoPreview(file, 480, config.imageLimits)),
  );
  // A finished prediction job's table, streamed from this host's verified copy of the stored object; the
  // same read access as queries (the token comes as the Authorization header).
  expressApp.get('/predictions/:id/table.:format', async (req, res) => {
    try {
      await reader(app, req, res, 'prediction tables');
      const id = Number(req.params.id);
      if (!Number.isSafeInteger(id)) {
        sendError(res, ErrorCode.NOT_FOUND, `prediction job ${req.params.id} does not exist`);
        return;
      }
      const table = await app.services.predictions.table(id, req.params.format as TableFormat);
      res.type(table.contentType).set('content-disposition', `attachment; filename="${table.fileName}"`).sendFile(table.file);
    } catch (error) {
      const known = error instanceof AppError;
      if (!known) log.error({ err: error }, 'could not send a prediction table');
      if (known) sendError(res, error.code, error.message);
      else sendError(res, ErrorCode.INTERNAL_SERVER_ERROR, 'Internal server error');
    }
  });
  const webRoot = path.join(PACKAGE_ROOT, 'web', 'dist');
  if (existsSync(webRoot)) expressApp.use(express.static(webRoot));

  // Body-parser failures (too large, malformed JSON) answer in GraphQL's error shape, never with a stack.
  const onError: ErrorRequestHandler = (error, _req, res, _next) => {
    const status = typeof error?.status === 'number' ? error.status : 500;
    const message =
      error?.type === 'entity.too.large'
        ? tooLargeMessage(bodyLimitOf(res, { bytes: config.maxBodyBytes, describe: '(FASHION_HOW_MAX_BODY_BYTES)' }))
        : status < 500
          ? String(error?.message ?? 'bad request')
          : 'Internal server error';
    if (status >= 500) log.error({ err: error }, 'unexpected HTTP error');
    // The parser's own status (413 for a body over the limit) says more than the code's.
    sendError(res, status < 500 ? ErrorCode.BAD_USER_INPUT : ErrorCode.INTERNAL_SERVER_ERROR, message, status);
  };
  expressApp.use(onError);

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(config.port, config.host, resolve);
  });
  const { port } = httpServer.address() as AddressInfo;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `http://${host}:${port}`;
  log.info({ url }, 'fashion-how is listening');
  return { url, graphqlUrl: `${url}/graphql`, close: () => apollo.stop() };
}
