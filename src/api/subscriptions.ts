// GraphQL over WebSocket (the graphql-ws protocol, subprotocol graphql-transport-ws) on the HTTP
// server's /graphql path: subscriptions, and queries or mutations from clients that send everything
// over one socket. The same schema, validation rules, tokens, read access and error shapes as HTTP.
import type { Server } from 'node:http';
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
import { AppError } from '../errors.js';
import type { Context } from './context.js';

export interface SubscriptionServerOptions {
  httpServer: Server;
  path: string;
  schema: GraphQLSchema;
  validationRules: ValidationRule[];
  /** The read-access rule HTTP requests follow; an error for a caller who may not run the operation. */
  readAccess: (caller: Caller | null, operation: string | undefined) => GraphQLError | undefined;
  formatError: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;
}

/** The token a client sent: connectionParams { authorization: "Bearer <token>" } (browsers cannot set
 *  headers on a WebSocket), else the upgrade request's Authorization header. */
function authorizationOf(params: Record<string, unknown> | undefined, header: string | undefined): string | undefined {
  const value = params?.authorization ?? params?.Authorization;
  return typeof value === 'string' && value !== '' ? value : header;
}

const withCode = (error: GraphQLError, code: string) =>
  new GraphQLError(error.message, { nodes: error.nodes, source: error.source, positions: error.positions, extensions: { code } });

export function serveSubscriptions(app: App, options: SubscriptionServerOptions): { dispose(): void | Promise<void> } {
  const { schema, formatError } = options;
  const webSockets = new WebSocketServer({ server: options.httpServer, path: options.path });
  const callers = new WeakMap<object, Caller | null>();
  return useServer(
    {
      schema,
      onConnect: async (ctx) => {
        try {
          callers.set(ctx, await app.services.tokens.authenticate(authorizationOf(ctx.connectionParams, ctx.extra.request.headers.authorization)));
          return true;
        } catch (error) {
          if (!(error instanceof AppError)) throw error;
          ctx.extra.socket.close(CloseCode.Unauthorized, error.message);
          return false;
        }
      },
      onSubscribe: (ctx, _id, payload) => {
        let document: DocumentNode;
        try {
          document = parse(payload.query);
        } catch (error) {
          return [withCode(error as GraphQLError, 'GRAPHQL_PARSE_FAILED')];
        }
        const invalid = validate(schema, document, [...specifiedRules, ...options.validationRules]);
        if (invalid.length > 0) return invalid.map((error) => withCode(error, 'GRAPHQL_VALIDATION_FAILED'));
        const caller = callers.get(ctx) ?? null;
        const refused = options.readAccess(caller, getOperationAST(document, payload.operationName)?.operation);
        if (refused) return [refused];
        const contextValue: Context = {
          config: app.config,
          services: app.services,
          caller,
          client: caller ? `token ${caller.tokenId}` : `address ${ctx.extra.request.socket.remoteAddress}`,
        };
        return { schema, document, operationName: payload.operationName, variableValues: payload.variables, contextValue };
      },
      onError: (_ctx, _id, _payload, errors) => errors.map((error) => formatError(error.toJSON(), error)),
      onNext: (_ctx, _id, _payload, _args, result) =>
        result.errors ? { ...result, errors: result.errors.map((error) => formatError(error.toJSON(), error)) } : result,
    },
    webSockets,
  );
}
