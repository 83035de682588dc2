// An image in a GraphQL input: a multipart file part or base64 text, each within the image byte limit.
// classify and saliency take images the same way.
import type { AppConfig } from '../../config.js';
import { badInput } from '../../errors.js';
import { readUpload, type Upload } from '../uploads.js';

const BASE64 = /^[A-Za-z0-9+/=_-]*$/;

/** One image's bytes; `where` names it in errors (e.g. images[2]). */
export async function imageBytes({ image, file }: { image?: string | null; file?: Upload | null }, where: string, config: AppConfig): Promise<Buffer> {
  const { maxBytes } = config.imageLimits;
  if ((image == null) === (file == null)) throw badInput(`${where}: give image (base64) or file (a multipart upload), exactly one`);
  if (file) return readUpload(file, where, maxBytes, 'FASHION_HOW_MAX_IMAGE_BYTES');
  // base64 inflates by 4/3: refuse oversize images before decoding them.
  if (image!.length > Math.ceil((maxBytes * 4) / 3) + 4) throw badInput(`${where}: image is over the limit of ${maxBytes} bytes (FASHION_HOW_MAX_IMAGE_BYTES)`);
  const payload = image!.replace(/^data:[^,]*,/, '');
  if (!BASE64.test(payload)) throw badInput(`${where}: image must be base64 (optionally a data: URL)`);
  return Buffer.from(payload, 'base64');
}
