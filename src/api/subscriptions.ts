// GraphQL over WebSocket (the graphql-ws protocol, subprotocol graphql-transport-ws) on the HTTP
// server's /graphql path: subscriptions, and queries or mutations from clients that send everything
// over one socket. The same schema, validation rules, tokens, read access, operation budget, metrics and
// error shapes as HTTP; and bounds on what a socket may hold before and after it authenticates: a
// frame at most the HTTP body limit, upgrades only from allowed origins (and for a loopback host on a
// loopback bind), sockets per address and operations per client capped.
import type { IncomingMessage, Server } from 'node:http';
import {
  type DocumentNode,
  GraphQLError,
  type GraphQLFormattedError,
  type GraphQLSchema,
  getOperationAST,
  parse,
  specifiedRules,
  type ValidationRule,
  validate,
} from 'graphql';
import { CloseCode } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import type { App } from '../app.js';
import type { Caller } from '../auth/tokens.js';
import { AppError, ErrorCode } from '../errors.js';
import { clientKey } from './callers.js';
import type { Context } from './context.js';
import type { HeavyReads } from './heavyReads.js';
import { hostProblem, originProblem } from './origins.js';
import { recordOperation } from './plugins/metrics.js';
import { fragmentsOf, type OperationLimits, operationBudgetError } from './plugins/operationBudget.js';

export interface SubscriptionServerOptions {
  httpServer: Server;
  path: string;
  schema: GraphQLSchema;
  validationRules: ValidationRule[];
  /** The read-access rule HTTP requests follow; an error for a caller who may not run the operation. */
  readAccess: (caller: Caller | null, operation: string | undefined) => GraphQLError | undefined;
  formatError: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;
  /** The operation names metrics label by (see operationNames.ts). */
  knownOperations: ReadonlySet<string>;
  operationLimits: OperationLimits;
  heavyReads: HeavyReads;
}

/** The token a client sent: connectionParams { authorization: "Bearer <token>" } (browsers cannot set
 *  headers on a WebSocket), else the upgrade request's Authorization header. */
function authorizationOf(params: Record<string, unknown> | undefined, header: string | undefined): string | undefined {
  const value = params?.authorization ?? params?.Authorization;
  return typeof value === 'string' && value !== '' ? value : header;
}

const withCode = (error: GraphQLError, code: string) =>
  new GraphQLError(error.message, { nodes: error.nodes, source: error.source, positions: error.positions, extensions: { code } });

/** The GraphQL multipart spec is HTTP's: an operation over the socket carries no file parts. */
const NO_UPLOADS = { take: () => 'files cannot be uploaded over a WebSocket', close: () => undefined };

/** What one socket holds: its caller, who limits count it against, and its operations in flight. */
interface SocketState {
  caller: Caller | null;
  client: string;
  operations: Map<string, { name?: string | null; started: number; codes: string[] }>;
}

export function serveSubscriptions(app: App, options: SubscriptionServerOptions): { dispose(): void | Promise<void> } {
  const { schema, formatError } = options;
  const { guards } = app.config;
  const socketsByAddress = new Map<string, number>();
  const operationsByClient = new Map<string, number>();
  const addressOf = (request: IncomingMessage) => request.socket.remoteAddress ?? 'unknown';
  const webSockets = new WebSocketServer({
    server: options.httpServer,
    path: options.path,
    // A frame is read whole before anything looks at it (a connection_init comes before the token is
    // known): no larger than an HTTP request may be.
    maxPayload: app.config.maxBodyBytes,
    verifyClient: ({ req, origin }, done) => {
      const refused = hostProblem(app.config.host, req.headers.host) ?? originProblem(guards.allowedOrigins, origin || undefined, req.headers.host);
      if (refused) return done(false, 403, refused);
      const open = socketsByAddress.get(addressOf(req)) ?? 0;
      if (open >= guards.maxClientSockets)
        return done(false, 429, `this address already has ${open} WebSockets open, the limit is ${guards.maxClientSockets} (FASHION_HOW_MAX_CLIENT_SOCKETS)`);
      done(true);
    },
  });
  webSockets.on('connection', (socket, request) => {
    const address = addressOf(request);
    socketsByAddress.set(address, (socketsByAddress.get(address) ?? 0) + 1);
    socket.once('close', () => {
      const left = (socketsByAddress.get(address) ?? 1) - 1;
      if (left > 0) socketsByAddress.set(address, left);
      else socketsByAddress.delete(address);
    });
  });
  const states = new WeakMap<object, SocketState>();
  const finish = (ctx: object, id: string) => {
    const state = states.get(ctx);
    const operation = state?.operations.get(id);
    if (!state || !operation) return;
    state.operations.delete(id);
    const left = (operationsByClient.get(state.client) ?? 1) - 1;
    if (left > 0) operationsByClient.set(state.client, left);
    else operationsByClient.delete(state.client);
    recordOperation(app.services.metrics, options.knownOperations, operation.name, operation.codes, (performance.now() - operation.started) / 1000);
  };
  /** Refusals made here, whose messages are meant for the client as they are (formatError would take a
   *  GraphQLError that no resolver threw for an unexpected one). */
  const ownRefusals = new WeakSet<GraphQLError>();
  /** A refusal before the operation runs, counted as HTTP counts one. */
  const refuse = (operationName: string | null | undefined, errors: GraphQLError[]) => {
    recordOperation(
      app.services.metrics,
      options.knownOperations,
      operationName,
      errors.map((error) => String(error.extensions?.code ?? 'UNKNOWN')),
      0,
    );
    return errors;
  };
  return useServer(
    {
      schema,
      onConnect: async (ctx) => {
        try {
          const caller = await app.services.tokens.authenticate(authorizationOf(ctx.connectionParams, ctx.extra.request.headers.authorization));
          const client = clientKey(caller, addressOf(ctx.extra.request));
          states.set(ctx, { caller, client, operations: new Map() });
          return true;
        } catch (error) {
          if (!(error instanceof AppError)) throw error;
          ctx.extra.socket.close(CloseCode.Unauthorized, error.message);
          return false;
        }
      },
      onSubscribe: (ctx, id, payload) => {
        const name = payload.operationName;
        let document: DocumentNode;
        try {
          document = parse(payload.query);
        } catch (error) {
          return refuse(name, [withCode(error as GraphQLError, 'GRAPHQL_PARSE_FAILED')]);
        }
        const invalid = validate(schema, document, [...specifiedRules, ...options.validationRules]);
        if (invalid.length > 0) return refuse(name, [...invalid.map((error) => withCode(error, 'GRAPHQL_VALIDATION_FAILED'))]);
        const state = states.get(ctx)!;
        const operation = getOperationAST(document, name);
        const refused = options.readAccess(state.caller, operation?.operation);
        if (refused) return refuse(name, [refused]);
        if (operation) {
          const overBudget = operationBudgetError(schema, operation, fragmentsOf(document.definitions), payload.variables ?? {}, options.operationLimits);
          if (overBudget) return refuse(name, [overBudget]);
        }
        const running = operationsByClient.get(state.client) ?? 0;
        if (running >= guards.maxClientSubscriptions) {
          const tooMany = new GraphQLError(
            `this client already runs ${running} subscriptions and operations over WebSockets, the limit is ${guards.maxClientSubscriptions} (FASHION_HOW_MAX_CLIENT_SUBSCRIPTIONS)`,
            { extensions: { code: ErrorCode.RATE_LIMITED } },
          );
          ownRefusals.add(tooMany);
          return refuse(name, [tooMany]);
        }
        operationsByClient.set(state.client, running + 1);
        state.operations.set(id, { name, started: performance.now(), codes: [] });
        const contextValue: Context = {
          config: app.config,
          services: app.services,
          caller: state.caller,
          client: state.client,
          heavyReads: options.heavyReads,
          uploads: NO_UPLOADS,
        };
        return { schema, document, operationName: name, variableValues: payload.variables, contextValue };
      },
      onError: (_ctx, _id, _payload, errors) => errors.map((error) => (ownRefusals.has(error) ? error.toJSON() : formatError(error.toJSON(), error))),
      onNext: (ctx, id, _payload, _args, result) => {
        if (!result.errors) return result;
        const formatted = result.errors.map((error) => formatError(error.toJSON(), error));
        states
          .get(ctx)
          ?.operations.get(id)
          ?.codes.push(...formatted.map((error) => String(error.extensions?.code ?? 'UNKNOWN')));
        return { ...result, errors: formatted };
      },
      onComplete: (ctx, id) => finish(ctx, id),
      onClose: (ctx) => {
        for (const id of [...(states.get(ctx)?.operations.keys() ?? [])]) finish(ctx, id);
      },
    },
    webSockets,
  );
}
