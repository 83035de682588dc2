// API tokens and roles. A token is 32 random bytes shown once; only its SHA-256 is stored, so a
// leaked database does not leak working tokens. Roles nest: reader < trainer < admin (stored in
// lowercase; the GraphQL enum shows them as READER, TRAINER, ADMIN).
import { createHash, randomBytes } from 'node:crypto';
import type { Db } from '../db/client.js';
import { AppError, badInput, ErrorCode, notFound } from '../errors.js';

export const ROLES = ['reader', 'trainer', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface Caller {
  tokenId: number;
  name: string;
  role: Role;
}

const TOKEN_PREFIX = 'fh_';
const hashOf = (token: string) => createHash('sha256').update(token).digest('hex');

export function roleAtLeast(role: Role, needed: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(needed);
}

/** How precisely lastUsedAt follows a token's use. */
const LAST_USED_RESOLUTION_MS = 60_000;
/** How long a checked token is trusted without asking the database again: a database query per
 *  request was a tenth of the server's CPU per classified image. A revocation in another process
 *  takes effect within this time (in this process at once). */
const RECENT_TOKENS_MS = 5_000;

export class TokenService {
  /** When this process last wrote each token's lastUsedAt. */
  private readonly lastRecorded = new Map<number, number>();
  /** Tokens checked in the last RECENT_TOKENS_MS, by hash. */
  private readonly recent = new Map<string, { caller: Caller; until: number }>();
  private revocations = 0;

  constructor(private readonly db: Db) {}

  /** Creates a token and returns it in clear text: the only time it can be seen. */
  /** `role` in any case: stored in lowercase, as GraphQL's READER, TRAINER, ADMIN map to it. */
  async create(name: string, roleName: string): Promise<{ token: string; id: number; role: Role }> {
    const role = roleName.toLowerCase();
    if (!(ROLES as readonly string[]).includes(role)) throw badInput(`role must be one of ${ROLES.map((r) => r.toUpperCase()).join(', ')}, got "${roleName}"`);
    if (name.trim() === '') throw badInput('a token needs a name (who or what uses it)');
    const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
    const row = await this.db.apiToken.create({ data: { name: name.trim(), role, hash: hashOf(token), prefix: token.slice(0, 10) } });
    return { token, id: row.id, role: role as Role };
  }

  list() {
    return this.db.apiToken.findMany({
      orderBy: { id: 'asc' },
      select: { id: true, name: true, role: true, prefix: true, createdAt: true, lastUsedAt: true, revokedAt: true },
    });
  }

  async revoke(id: number) {
    const row = await this.db.apiToken.findUnique({ where: { id } });
    if (!row) throw notFound('token', id);
    const revoked = await this.db.apiToken.update({ where: { id }, data: { revokedAt: row.revokedAt ?? new Date() } });
    this.recent.delete(row.hash); // at once here; other processes notice within RECENT_TOKENS_MS
    this.revocations++;
    return revoked;
  }

  count() {
    return this.db.apiToken.count({ where: { revokedAt: null } });
  }

  /** The caller behind an Authorization header value; null without one; UNAUTHENTICATED for a bad one. */
  async authenticate(header: string | undefined): Promise<Caller | null> {
    if (!header) return null;
    const match = /^Bearer\s+(\S+)$/i.exec(header.trim());
    if (!match) throw new AppError(ErrorCode.UNAUTHENTICATED, 'the Authorization header must be "Bearer <token>"');
    const hash = hashOf(match[1]!);
    const known = this.recent.get(hash);
    if (known && known.until > Date.now()) return known.caller;
    const revocationsBefore = this.revocations;
    const row = await this.db.apiToken.findUnique({ where: { hash } });
    if (!row || row.revokedAt) throw new AppError(ErrorCode.UNAUTHENTICATED, 'this API token is not valid (unknown or revoked)');
    // Recording use is best effort and must not slow the request: at most once a minute per token, not a
    // database write per classify.
    const now = Date.now();
    if (now - (this.lastRecorded.get(row.id) ?? 0) >= LAST_USED_RESOLUTION_MS) {
      this.lastRecorded.set(row.id, now);
      void this.db.apiToken.update({ where: { id: row.id }, data: { lastUsedAt: new Date(now) } }).catch(() => undefined);
    }
    const caller: Caller = { tokenId: row.id, name: row.name, role: row.role as Role };
    // Not remembered when a revocation happened during the lookup (the row read may predate it).
    if (this.revocations === revocationsBefore) this.recent.set(hash, { caller, until: now + RECENT_TOKENS_MS });
    return caller;
  }
}

/** Throws unless the caller may do what needs `role`; `what` names the operation in the message. */
export function requireRole(caller: Caller | null, role: Role, what: string): Caller {
  if (!caller) {
    throw new AppError(
      ErrorCode.UNAUTHENTICATED,
      `${what} needs an API token with role ${role} or higher: send "Authorization: Bearer <token>" (create one with \`fashion-how token create --role ${role} --name NAME\`)`,
    );
  }
  if (!roleAtLeast(caller.role, role)) throw new AppError(ErrorCode.FORBIDDEN, `${what} needs role ${role} or higher; this token has role ${caller.role}`);
  return caller;
}
