// Aliases: names (champion, challenger, ...) that point at an ensemble or an artifact, so that clients
// name a role rather than a model and a rollout is one recorded, undoable move. An alias may carry a
// candidate: a canary answers a sticky share of clients with it, a shadow scores a copy of every request
// with it off the answer path. `champion` is the default: a request that names no model gets it (and
// until a champion alias is set, the default ensemble, which moving champion keeps in step).
import { createHash } from 'node:crypto';
import type { Db, Prisma } from '../db/client.js';
import { AppError, badInput, ErrorCode, notFound } from '../errors.js';

export const CHAMPION = 'champion';
export const ROLLOUT_MODES = ['NONE', 'CANARY', 'SHADOW'] as const;
export type RolloutMode = (typeof ROLLOUT_MODES)[number];

export interface ModelRef {
  kind: 'ensemble' | 'artifact';
  id: number;
}

/** What an alias says: stored as a change's before and after. */
export interface AliasSettings {
  target: ModelRef;
  candidate: ModelRef | null;
  mode: RolloutMode;
  canaryPercent: number;
  logRate: number;
}

export type AliasRow = Awaited<ReturnType<Db['modelAlias']['findUniqueOrThrow']>>;

const NAME = /^[a-z0-9][a-z0-9_.-]{0,62}$/;

/** How long a serving process trusts the aliases it read before reading them again: a move made by
 *  another process is followed within this time (in this process at once). */
const FRESH_MS = 2_000;

export const settingsOf = (row: AliasRow): AliasSettings => ({
  target: { kind: row.targetKind as ModelRef['kind'], id: row.targetId },
  candidate: row.candidateKind && row.candidateId !== null ? { kind: row.candidateKind as ModelRef['kind'], id: row.candidateId } : null,
  mode: row.mode as RolloutMode,
  canaryPercent: row.canaryPercent,
  logRate: row.logRate,
});

/** What classify takes to answer with a model ref. */
export const refRequest = (ref: ModelRef) => (ref.kind === 'ensemble' ? { ensembleId: ref.id } : { artifactId: ref.id });

const refText = (ref: ModelRef | null) => (ref ? `${ref.kind} ${ref.id}` : 'nothing');

/**
 * Which side of a canary a client is on: a hash of the alias and the client, so one client always sees
 * one model, while clients spread evenly; widening the share keeps those already on the candidate there.
 */
export function canaryBucket(alias: string, client: string): number {
  return createHash('sha256').update(`${alias}\u0000${client}`).digest().readUInt32BE(0) / 2 ** 32;
}

/** The label schema a model answers in; NOT_FOUND for a model that does not exist. */
async function labelSchemaOf(db: Prisma.TransactionClient, ref: ModelRef): Promise<number> {
  const row =
    ref.kind === 'ensemble'
      ? await db.ensemble.findUnique({ where: { id: ref.id } })
      : ref.kind === 'artifact'
        ? await db.modelArtifact.findUnique({ where: { id: ref.id } })
        : null;
  if (!row) throw notFound(ref.kind, ref.id);
  return row.labelSchemaId;
}

/** An alias's settings with a new target: its candidate kept only if it is not the target itself and
 *  answers the same tasks (else the canary or shadow ends with the move). */
export async function retarget(tx: Prisma.TransactionClient, settings: AliasSettings, target: ModelRef): Promise<AliasSettings> {
  const { candidate } = settings;
  const fits =
    candidate &&
    !(candidate.kind === target.kind && candidate.id === target.id) &&
    (await labelSchemaOf(tx, candidate).catch(() => null)) === (await labelSchemaOf(tx, target));
  return fits ? { ...settings, target } : { ...settings, target, candidate: null, mode: 'NONE', canaryPercent: 0 };
}

/**
 * Moves an alias inside a transaction and records the change. Moving `champion` to an ensemble also
 * makes that ensemble the default (the deprecated Ensemble.isDefault stays true to what answers).
 */
export async function moveAlias(tx: Prisma.TransactionClient, name: string, next: AliasSettings, actor: string, undoes?: number) {
  const existing = await tx.modelAlias.findUnique({ where: { name } });
  const data = {
    targetKind: next.target.kind,
    targetId: next.target.id,
    candidateKind: next.candidate?.kind ?? null,
    candidateId: next.candidate?.id ?? null,
    mode: next.mode,
    canaryPercent: next.canaryPercent,
    logRate: next.logRate,
  };
  const row = existing ? await tx.modelAlias.update({ where: { id: existing.id }, data }) : await tx.modelAlias.create({ data: { name, ...data } });
  await tx.aliasChange.create({
    data: {
      aliasId: row.id,
      actor,
      ...(existing ? { before: settingsOf(existing) as object } : {}),
      after: next as object,
      ...(undoes !== undefined ? { undoes } : {}),
    },
  });
  if (name === CHAMPION) {
    await tx.ensemble.updateMany({ where: { isDefault: true }, data: { isDefault: false } });
    if (next.target.kind === 'ensemble') await tx.ensemble.update({ where: { id: next.target.id }, data: { isDefault: true } });
  }
  return row;
}

export class AliasService {
  private cache?: { rows: Map<string, AliasRow>; at: number };

  constructor(
    private readonly db: Db,
    /** Called after every move made through this process (the app warms a moved champion's ensemble;
     *  other processes read the aliases again within FRESH_MS). */
    private readonly changed: (name: string) => void = () => {},
  ) {}

  list() {
    return this.db.modelAlias.findMany({ orderBy: { name: 'asc' } });
  }

  async get(name: string) {
    const row = await this.db.modelAlias.findUnique({ where: { name } });
    if (!row) throw notFound('alias', `"${name}"`);
    return row;
  }

  /** The alias as this process last read it (at most FRESH_MS old); null when there is none. */
  async cached(name: string): Promise<AliasRow | null> {
    if (!this.cache || Date.now() - this.cache.at > FRESH_MS) {
      const rows = await this.list();
      this.cache = { rows: new Map(rows.map((r) => [r.name, r])), at: Date.now() };
    }
    return this.cache.rows.get(name) ?? null;
  }

  /** Forget what was read: the next request reads the aliases again (a notice from another process). */
  forget() {
    this.cache = undefined;
  }

  history(aliasId: number, first = 20) {
    return this.db.aliasChange.findMany({ where: { aliasId }, orderBy: { id: 'desc' }, take: first });
  }

  /** Points `name` at a model (with an optional candidate); one recorded change. */
  async set(name: string, settings: AliasSettings, actor: string) {
    if (!NAME.test(name)) throw badInput(`an alias name is 1 to 63 lowercase letters, digits, ".", "_" or "-", starting with a letter or digit; got "${name}"`);
    await this.check(settings);
    const row = await this.db
      .$transaction((tx) => moveAlias(tx, name, settings, actor))
      .catch((error: unknown) => {
        // Two first moves of a new alias at once: one creates it, the other is told to try again.
        if ((error as { code?: string }).code === 'P2002') throw new AppError(ErrorCode.CONFLICT, `alias "${name}" was created meanwhile; set it again`);
        throw error;
      });
    this.moved(name);
    return row;
  }

  /** Reverts the alias's latest change that is neither undone nor an undo: its settings go back to what
   *  they were before it. The change that created the alias has nothing before it: CONFLICT (set the alias
   *  again instead). Undos are recorded, but not themselves undone: the change before is undone next. */
  async undo(name: string, actor: string) {
    const alias = await this.get(name);
    const row = await this.db.$transaction(async (tx) => {
      const last = await tx.aliasChange.findFirst({ where: { aliasId: alias.id, undoneAt: null, undoes: null }, orderBy: { id: 'desc' } });
      if (!last?.before) throw new AppError(ErrorCode.CONFLICT, `alias "${name}" has no change left to undo`);
      await tx.aliasChange.update({ where: { id: last.id }, data: { undoneAt: new Date() } });
      return moveAlias(tx, name, last.before as unknown as AliasSettings, actor, last.id);
    });
    this.moved(name);
    return row;
  }

  private moved(name: string) {
    this.forget();
    this.changed(name);
  }

  private async check(settings: AliasSettings) {
    const { mode, candidate, canaryPercent, logRate } = settings;
    if (!ROLLOUT_MODES.includes(mode)) throw badInput(`mode must be one of ${ROLLOUT_MODES.join(', ')}`);
    if (mode !== 'NONE' && !candidate) throw badInput(`a ${mode.toLowerCase()} needs a candidate`);
    if (mode === 'NONE' && candidate) throw badInput('a candidate needs mode CANARY or SHADOW');
    if (!(canaryPercent >= 0 && canaryPercent <= 100)) throw badInput(`canaryPercent must be between 0 and 100, got ${canaryPercent}`);
    if (mode !== 'CANARY' && canaryPercent !== 0) throw badInput('canaryPercent applies to mode CANARY only');
    if (!(logRate >= 0 && logRate <= 1)) throw badInput(`logRate must be between 0 and 1, got ${logRate}`);
    if (candidate && candidate.kind === settings.target.kind && candidate.id === settings.target.id) throw badInput("the candidate is the alias's own target");
    const schemas = await Promise.all([settings.target, ...(candidate ? [candidate] : [])].map((ref) => labelSchemaOf(this.db, ref)));
    if (new Set(schemas).size > 1)
      throw badInput(
        `${refText(settings.target)} and ${refText(candidate)} predict different label schemas (${schemas.join(' and ')}): a candidate must answer the same tasks`,
      );
  }
}
