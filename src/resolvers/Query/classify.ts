import { badInput } from '../../errors.js';
import type { QueryClassifyArgs, QueryResolvers } from '../../generated/graphql.js';
import type { Context } from '../../context.js';
import { parseId } from '../ids.js';

const BASE64 = /^[A-Za-z0-9+/=_-]*$/;

export const classify: NonNullable<QueryResolvers['classify']> = async (_parent, { input }, { services, config, client }) => {
  const release = services.clientLimiter.acquire(client);
  try {
    return await classifyImages(input, services, config);
  } finally {
    release();
  }
};

function classifyImages(input: QueryClassifyArgs['input'], services: Context['services'], config: Context['config']) {
  const images = input.images.map(({ image, bbox }, index) => {
    // base64 inflates by 4/3: refuse oversize images before decoding them.
    if (image.length > Math.ceil((config.imageLimits.maxBytes * 4) / 3) + 4) {
      throw badInput(`images[${index}]: image is over the limit of ${config.imageLimits.maxBytes} bytes (FASHION_HOW_MAX_IMAGE_BYTES)`);
    }
    const payload = image.replace(/^data:[^,]*,/, '');
    if (!BASE64.test(payload)) throw badInput(`images[${index}]: image must be base64 (optionally a data: URL)`);
    return { image: Buffer.from(payload, 'base64'), bbox };
  });
  return services.classify.classify({
    images,
    ensembleId: input.ensembleId ? parseId(input.ensembleId, 'ensemble') : undefined,
    artifactId: input.artifactId ? parseId(input.artifactId, 'artifact') : undefined,
    includeMembers: input.includeMembers ?? false,
  });
};
