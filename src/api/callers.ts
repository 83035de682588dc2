// Who a request comes from, worked out one way for every route (GraphQL over HTTP and WebSocket, /v2,
// the item images and prediction tables): the caller its token names, the read access queries need,
// and the key the fair-use limits count it under (the token, else the remote address).
import type { Request, Response } from 'express';
import type { App } from '../app.js';
import { type Caller, requireRole } from '../auth/tokens.js';
import { callerOf } from './bodyLimits.js';

/** Who the per-client limits count a request against: its token, else its remote address. */
export const clientKey = (caller: Caller | null, address: string | undefined) => (caller ? `token ${caller.tokenId}` : `address ${address}`);

/** The caller authenticateFirst found before the body was read, or, on a route without it, the one the
 *  Authorization header names (null: no token; a bad token throws). */
export async function callerOfRequest(app: App, req: Request, res: Response): Promise<Caller | null> {
  const known = callerOf(res);
  return known !== undefined ? known : app.services.tokens.authenticate(req.headers.authorization);
}

/** A read outside GraphQL (`what` names it in a refusal): the same access as queries, and the client key. */
export async function reader(app: App, req: Request, res: Response, what: string): Promise<{ caller: Caller | null; client: string }> {
  const caller = await callerOfRequest(app, req, res);
  if (!app.config.anonymousRead) requireRole(caller, 'reader', what);
  return { caller, client: clientKey(caller, req.ip) };
}
