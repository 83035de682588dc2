import path from 'node:path';
import { type Caller, requireRole } from '../../../auth/tokens.js';
import { defaultImageRoot, importDataset as runImport } from '../../../data/import.js';
import { importFromBucket, underImportRoots } from '../../../data/sources.js';
import { AppError, badInput, ErrorCode } from '../../../errors.js';
import type { Context } from '../../context.js';
import type { MutationImportDatasetArgs, MutationResolvers } from '../../generated/graphql.js';
import { nullsAsAbsent } from '../absent.js';
import { importResult } from './uploadDataset.js';

export const importDataset: NonNullable<MutationResolvers['importDataset']> = async (_parent, args, context) => {
  const who = requireRole(context.caller, 'trainer', 'importDataset');
  return context.services.importLimiter.run(context.client, () => runImportDataset(args, who, context));
};

async function runImportDataset({ input }: MutationImportDatasetArgs, who: Caller, { services, config }: Context) {
  const { bucket, csv, imageFolder, csvPath, imageRoot, labelSchemaPath, ...common } = nullsAsAbsent(input);
  const context = services.importContext;
  if (bucket !== undefined) {
    if (csvPath !== undefined || imageRoot !== undefined || labelSchemaPath !== undefined)
      throw badInput('give either bucket (with csv and imageFolder inside it) or csvPath (with imageRoot and labelSchemaPath), not both');
    return importResult(services, await importFromBucket(bucket, { skipInvalid: false, ...common, csv, imageFolder }, context));
  }
  if (csvPath === undefined)
    throw badInput('say where the dataset is: bucket (an s3:// URL), or csvPath for a server path; or send an archive with uploadDataset');
  if (csv !== undefined || imageFolder !== undefined) throw badInput('csv and imageFolder go with bucket; with csvPath, say imageRoot');
  // Server paths read the server's own disk: admins only, and only under the configured roots.
  if (who.role !== 'admin')
    throw new AppError(
      ErrorCode.FORBIDDEN,
      `importing server paths (csvPath) needs role admin; this token has role ${who.role}. Upload an archive (uploadDataset) or import from a bucket`,
    );
  const roots = config.imports.roots;
  const csvFile = await underImportRoots(csvPath, roots, 'csvPath');
  const images = await underImportRoots(imageRoot ?? defaultImageRoot(csvFile.file), roots, 'imageRoot');
  const schema = labelSchemaPath === undefined ? undefined : await underImportRoots(labelSchemaPath, roots, 'labelSchemaPath');
  const shown = (file: string) => {
    const root = [csvFile.root, images.root].find((r) => file === r || file.startsWith(r + path.sep));
    return root ? `<import root>/${path.relative(root, file).split(path.sep).join('/')}` : '<outside the import roots>';
  };
  const outcome = await runImport(
    { skipInvalid: false, ...common, csvPath: csvFile.file, imageRoot: images.file, labelSchemaPath: schema?.file, origin: { shown } },
    context,
  );
  return importResult(services, outcome);
}
