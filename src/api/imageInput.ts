// An image a client sends, whichever protocol carries it: base64 text (GraphQL's image, /v2's BYTES) or
// a multipart file part, each within the image byte limit, or a stored item (its photo and box).
// classify, saliency and /v2 read images the same way.
import type { AppConfig } from '../config.js';
import type { Bbox } from '../domain.js';
import { badInput } from '../errors.js';
import type { Services } from './context.js';
import { parseId } from './resolvers/ids.js';
import { readUpload, type Upload, type UploadAccount } from './uploads.js';

const BASE64 = /^[A-Za-z0-9+/=_-]*$/;

/** One image's bytes; `where` names it in errors (e.g. images[2]). */
export async function imageBytes(
  { image, file }: { image?: string | null; file?: Upload | null },
  where: string,
  config: AppConfig,
  account?: UploadAccount,
): Promise<Buffer> {
  const { maxBytes } = config.imageLimits;
  if ((image == null) === (file == null)) throw badInput(`${where}: give image (base64) or file (a multipart upload), exactly one`);
  if (file) return readUpload(file, where, maxBytes, 'FASHION_HOW_MAX_IMAGE_BYTES', account);
  // base64 inflates by 4/3: refuse oversize images before decoding them.
  if (image!.length > Math.ceil((maxBytes * 4) / 3) + 4) throw badInput(`${where}: image is over the limit of ${maxBytes} bytes (FASHION_HOW_MAX_IMAGE_BYTES)`);
  const payload = image!.replace(/^data:[^,]*,/, '');
  if (!BASE64.test(payload)) throw badInput(`${where}: image must be base64 (optionally a data: URL)`);
  return Buffer.from(payload, 'base64');
}

interface ImageGiven {
  image?: string | null;
  file?: Upload | null;
  itemId?: string | null;
  bbox?: Bbox | null;
}

/** One image and its box, from bytes the client sent (with its bbox) or from a stored item; an uploaded
 *  file counts against the request's `account` of bytes held. */
export async function imageAndBox(
  given: ImageGiven,
  where: string,
  config: AppConfig,
  services: Services,
  account?: UploadAccount,
): Promise<{ image: Buffer; bbox: Bbox }> {
  if (given.itemId != null) {
    if (given.image != null || given.file != null) throw badInput(`${where}: give image, file or itemId, exactly one`);
    const photo = await services.datasets.itemPhoto(parseId(given.itemId, 'item'));
    return { image: photo.image, bbox: given.bbox ?? photo.bbox };
  }
  if (!given.bbox) throw badInput(`${where}: bbox is required with image or file`);
  return { image: await imageBytes(given, where, config, account), bbox: given.bbox };
}
