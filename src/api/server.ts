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
import { requireRole } from '../auth/tokens.js';
import { cropPreview, photoPreview } from '../data/image.js';
import { PACKAGE_ROOT } from '../db/migrate.js';
import type { Bbox } from '../domain.js';
import { AppError, ErrorCode } from '../errors.js';
import type { Context } from './context.js';
import { errorFormatter, sendError } from './errors.js';
import { httpStatusOf } from './httpStatus.js';
import { inferenceProtocol } from './inferenceProtocol.js';
import { classifyBudgetPlugin } from './plugins/classifyBudget.js';
import { metricsPlugin } from './plugins/metrics.js';
import { readAccessError, readAccessPlugin } from './plugins/readAccess.js';
import { retryAfterPlugin } from './plugins/retryAfter.js';
import { resolvers } from './resolvers/index.js';
import { acceptOldRoleNames } from './resolvers/Role.js';
import { serveSubscriptions } from './subscriptions.js';
import { uploadMiddleware } from './uploads.js';

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
  const subscriptions = serveSubscriptions(app, {
    httpServer,
    path: '/graphql',
    schema,
    validationRules,
    readAccess: (caller, operation) => readAccessError(config.anonymousRead, caller, operation),
    formatError,
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
      metricsPlugin(app.services.metrics),
      readAccessPlugin(config.anonymousRead),
      classifyBudgetPlugin({ maxImages: config.serving.maxClassifyImages, imageCost: graphql.classifyImageCost, maxCost: graphql.maxCost }),
      retryAfterPlugin(),
      ...(graphql.landingPage ? [] : [ApolloServerPluginLandingPageDisabled()]),
    ],
  });
  await apollo.start();

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
    uploadMiddleware({
      maxFileBytes: Math.max(config.imageLimits.maxBytes, config.maxModelBytes, config.imports.maxUploadBytes),
      maxFiles: Math.max(config.serving.maxClassifyImages, 2),
    }),
    express.json({ limit: config.maxBodyBytes }),
    expressMiddleware(apollo, {
      context: async ({ req }) => {
        try {
          const caller = await app.services.tokens.authenticate(req.headers.authorization);
          return { config, services: app.services, caller, client: caller ? `token ${caller.tokenId}` : `address ${req.ip}` };
        } catch (error) {
          if (error instanceof AppError)
            throw new GraphQLError(error.message, { extensions: { code: error.code, http: { status: httpStatusOf(error.code) } } });
          throw error;
        }
      },
    }),
  );
  // Item crops and photos for the dashboard; the same read access as queries (a token may come as a header).
  const itemImage =
    (make: (photo: Buffer, bbox: Bbox) => Promise<Buffer>): RequestHandler =>
    async (req, res) => {
      try {
        const caller = await app.services.tokens.authenticate(req.headers.authorization);
        if (!config.anonymousRead) requireRole(caller, 'reader', 'item images');
        const id = Number(req.params.id);
        if (!Number.isSafeInteger(id)) {
          sendError(res, ErrorCode.NOT_FOUND, `item ${req.params.id} does not exist`);
          return;
        }
        // The same read as classify-by-itemId: NOT_FOUND for no such item, UNAVAILABLE for an unreadable photo.
        const { image, bbox } = await app.services.datasets.itemPhoto(id);
        const jpeg = await make(image, bbox);
        res.type('image/jpeg').set('cache-control', 'max-age=3600').send(jpeg);
      } catch (error) {
        const known = error instanceof AppError;
        if (!known) log.error({ err: error }, 'could not make an item image');
        if (known) sendError(res, error.code, error.message);
        else sendError(res, ErrorCode.INTERNAL_SERVER_ERROR, 'Internal server error');
      }
    };
  expressApp.get(
    '/items/:id/crop.jpg',
    itemImage((photo, bbox) => cropPreview(photo, bbox, 192, config.imageLimits)),
  );
  expressApp.get(
    '/items/:id/photo.jpg',
    itemImage((file) => photoPreview(file, 480, config.imageLimits)),
  );
  const webRoot = path.join(PACKAGE_ROOT, 'web', 'dist');
  if (existsSync(webRoot)) expressApp.use(express.static(webRoot));

  // Body-parser failures (too large, malformed JSON) answer in GraphQL's error shape, never with a stack.
  const onError: ErrorRequestHandler = (error, _req, res, _next) => {
    const status = typeof error?.status === 'number' ? error.status : 500;
    const message =
      error?.type === 'entity.too.large'
        ? `request body is larger than the limit of ${config.maxBodyBytes} bytes`
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
