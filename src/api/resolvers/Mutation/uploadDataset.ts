import { randomUUID } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { requireRole } from '../../../auth/tokens.js';
import { type ImportOutcome, shownRejects } from '../../../data/import.js';
import { importArchive } from '../../../data/sources.js';
import { AppError } from '../../../errors.js';
import type { Context, Services } from '../../context.js';
import type { MutationResolvers, MutationUploadDatasetArgs } from '../../generated/graphql.js';
import { saveUpload } from '../../uploads.js';
import { nullsAsAbsent } from '../absent.js';

export async function importResult(services: Services, outcome: ImportOutcome) {
  return {
    dataset: await services.datasets.get(outcome.datasetId),
    created: outcome.created,
    itemCount: outcome.itemCount,
    // The first ones only, each bounded: all of them are stored with the dataset (Dataset.rejects, by page).
    rejects: shownRejects(outcome.rejects),
    rejectCount: outcome.rejects.length,
  };
}

const PHASES = { receive: 'RECEIVE', unpack: 'UNPACK', validate: 'VALIDATE', photos: 'PHOTOS', store: 'STORE' } as const;

export const uploadDataset: NonNullable<MutationResolvers['uploadDataset']> = async (_parent, args, context) => {
  requireRole(context.caller, 'trainer', 'uploadDataset');
  // Each upload holds scratch disk (its archive and the unpacked files) until it ends: a few per client.
  return context.services.importLimiter.run(context.client, () => receive(args, context));
};

async function receive({ archive, input }: MutationUploadDatasetArgs, { services, config }: Context) {
  const { progressId, ...request } = nullsAsAbsent(input ?? {});
  const context = services.importContext;
  // Progress goes out at most every 200 ms per phase (and at each phase's start), not per row.
  let last = { phase: '', at: 0 };
  const report = (phase: keyof typeof PHASES | 'DONE' | 'FAILED', done: number, total: number, message?: string) => {
    if (!progressId) return;
    const now = Date.now();
    if (phase === last.phase && now - last.at < 200 && done !== total) return;
    last = { phase, at: now };
    // A NOTIFY payload holds 8000 bytes: a long refusal (its first rejected rows) is cut to fit.
    const phaseName = phase in PHASES ? PHASES[phase as keyof typeof PHASES] : phase;
    services.pubsub.publish('importProgress', { progressId, phase: phaseName, done, total, message: message?.slice(0, 2000) });
  };
  const file = path.join(context.scratchDir, `upload-${randomUUID()}`);
  await mkdir(context.scratchDir, { recursive: true });
  try {
    report('receive', 0, 0);
    const upload = await archive;
    await saveUpload(Promise.resolve(upload), file, 'the archive', config.imports.maxUploadBytes, 'FASHION_HOW_MAX_UPLOAD_BYTES');
    const outcome = await importArchive(
      file,
      upload.filename || 'archive',
      { skipInvalid: false, ...request },
      { ...context, onProgress: (p) => report(p.phase, p.done, p.total) },
    );
    report('DONE', outcome.itemCount, outcome.itemCount);
    return importResult(services, outcome);
  } catch (error) {
    report('FAILED', 0, 0, error instanceof AppError ? error.message : 'the import failed');
    throw error;
  } finally {
    await rm(file, { force: true });
  }
}
