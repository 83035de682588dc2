// Ensembles: weighted soft votes over artifacts that share a label schema, optionally with a
// temperature per member and task and a logit adjustment of the vote (both fitted by fitEnsemble). One
// of them is the default that classify uses when a request names no model.
import { EventEmitter } from 'node:events';
import type { Db } from '../db/client.js';
import { AppError, badInput, ErrorCode, notFound } from '../errors.js';
import { CHAMPION, moveAlias, retarget, settingsOf } from './aliases.js';

export interface EnsembleMemberInput {
  artifactId: number;
  weight: number;
  /** One temperature per task, applied to this member's probabilities before the vote. */
  temperatures?: number[];
}

/** Post-hoc logit adjustment of an ensemble's vote, per task: argmax of log p - tau x log prior. */
export interface LogitAdjustment {
  /** What each task's tau was chosen to maximise on the fitting split (absent in fits made before it was recorded: ACSA). */
  optimised?: 'MEAN_ACSA' | 'MEAN_TOP1';
  tasks: { task: string; tau: number; logPrior: number[]; plainAcsa: number; adjustedAcsa: number; plainTop1?: number; adjustedTop1?: number }[];
}

export interface CreateEnsembleInput {
  name: string;
  members: EnsembleMemberInput[];
  makeDefault?: boolean;
  /** Who asked (recorded on the champion alias when makeDefault moves it). */
  actor?: string;
  /** How the weights were fitted (see fitEnsemble); stored as given. */
  fit?: object;
  logitAdjustment?: LogitAdjustment;
}

export class EnsembleService {
  /** 'changed' (ensembleId) after an ensemble is created or made the default: replicas warm the new default. */
  readonly events = new EventEmitter();

  constructor(private readonly db: Db) {}

  async create(input: CreateEnsembleInput) {
    const name = input.name.trim();
    if (name === '') throw badInput('an ensemble needs a name');
    if (input.members.length === 0) throw badInput('an ensemble needs at least one member');
    const ids = input.members.map((m) => m.artifactId);
    if (new Set(ids).size !== ids.length) throw badInput('each artifact may appear once in an ensemble');
    for (const m of input.members) {
      if (!(Number.isFinite(m.weight) && m.weight > 0)) throw badInput(`member weights must be positive numbers, got ${m.weight} for artifact ${m.artifactId}`);
    }
    const artifacts = await this.db.modelArtifact.findMany({ where: { id: { in: ids } } });
    const missing = ids.filter((id) => !artifacts.some((a) => a.id === id));
    if (missing.length > 0) throw notFound('artifact', missing.join(', '));
    const schemas = new Set(artifacts.map((a) => a.labelSchemaId));
    if (schemas.size > 1) {
      throw badInput(
        `ensemble members must share one label schema (the same tasks and classes); these artifacts use ${schemas.size} different schemas: ${artifacts.map((a) => `${a.id} -> schema ${a.labelSchemaId}`).join(', ')}`,
      );
    }
    if (await this.db.ensemble.findUnique({ where: { name } })) throw new AppError(ErrorCode.CONFLICT, `an ensemble named "${name}" already exists`);
    const isFirst = (await this.db.ensemble.count()) === 0;
    const created = await this.db.$transaction(async (tx) => {
      const champion = await tx.modelAlias.findUnique({ where: { name: CHAMPION } });
      // The first ensemble becomes the default only where no champion alias says otherwise.
      const makeDefault = input.makeDefault || (isFirst && !champion);
      if (makeDefault) await tx.ensemble.updateMany({ where: { isDefault: true }, data: { isDefault: false } });
      const ensemble = await tx.ensemble.create({
        data: {
          name,
          isDefault: makeDefault,
          labelSchemaId: artifacts[0]!.labelSchemaId,
          ...(input.fit ? { fit: input.fit } : {}),
          ...(input.logitAdjustment ? { logitAdjustment: input.logitAdjustment as object } : {}),
          members: {
            create: input.members.map((m) => ({ artifactId: m.artifactId, weight: m.weight, ...(m.temperatures ? { temperatures: m.temperatures } : {}) })),
          },
        },
      });
      if (makeDefault && champion)
        await moveAlias(tx, CHAMPION, await retarget(tx, settingsOf(champion), { kind: 'ensemble', id: ensemble.id }), input.actor ?? 'system');
      return ensemble;
    });
    this.events.emit('changed', created.id);
    return created;
  }

  list() {
    return this.db.ensemble.findMany({ orderBy: { id: 'asc' } });
  }

  async get(id: number) {
    const ensemble = await this.db.ensemble.findUnique({ where: { id } });
    if (!ensemble) throw notFound('ensemble', id);
    return ensemble;
  }

  getDefault() {
    return this.db.ensemble.findFirst({ where: { isDefault: true } });
  }

  /** Points the champion alias at this ensemble (keeping a canary or shadow it has), a recorded change. */
  async setDefault(id: number, actor = 'system') {
    await this.get(id);
    await this.db.$transaction(async (tx) => {
      const champion = await tx.modelAlias.findUnique({ where: { name: CHAMPION } });
      const target = { kind: 'ensemble' as const, id };
      const settings = champion
        ? await retarget(tx, settingsOf(champion), target)
        : { target, candidate: null, mode: 'NONE' as const, canaryPercent: 0, logRate: 0 };
      await moveAlias(tx, CHAMPION, settings, actor);
    });
    this.events.emit('changed', id);
    return this.get(id);
  }

  members(ensembleId: number) {
    return this.db.ensembleMember.findMany({ where: { ensembleId }, orderBy: { artifactId: 'asc' } });
  }
}
