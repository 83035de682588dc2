import { badInput } from '../../errors.js';
import type { QueryClassifyArgs, QueryResolvers } from '../../generated/graphql.js';
import type { Context } from '../../context.js';
import { readUpload } from '../../uploads.js';
import { parseId } from '../ids.js';

const BASE64 = /^[A-Za-z0-9+/=_-]*$/;

export const classify: NonNullable<QueryResolvers['classify']> = async (_parent, { input }, { services, config, client }) => {
  const release = services.clientLimiter.acquire(client);
  try {
    return await services.classify.classify({
      images: await Promise.all(input.images.map((image, index) => imageBytes(image, index, config))),
      ensembleId: input.ensembleId ? parseId(input.ensembleId, 'ensemble') : undefined,
      artifactId: input.artifactId ? parseId(input.artifactId, 'artifact') : undefined,
      includeMembers: input.includeMembers ?? false,
      client,
    });
  } finally {
    release();
  }
};

/** One image's bytes, from its multipart file or its base64 text; each within the image byte limit. */
async function imageBytes({ image, file, bbox }: QueryClassifyArgs['input']['images'][number], index: number, config: Context['config']) {
  const { maxBytes } = config.imageLimits;
  if ((image == null) === (file == null)) throw badInput(`images[${index}]: give image (base64) or file (a multipart upload), exactly one`);
  if (file) return { image: await readUpload(file, `images[${index}]`, maxBytes, 'FASHION_HOW_MAX_IMAGE_BYTES'), bbox };
  // base64 inflates by 4/3: refuse oversize images before decoding them.
  if (image!.length > Math.ceil((maxBytes * 4) / 3) + 4) throw badInput(`images[${index}]: image is over the limit of ${maxBytes} bytes (FASHION_HOW_MAX_IMAGE_BYTES)`);
  const payload = image!.replace(/^data:[^,]*,/, '');
  if (!BASE64.test(payload)) throw badInput(`images[${index}]: image must be base64 (optionally a data: URL)`);
  return { image: Buffer.from(payload, 'base64'), bbox };
}
