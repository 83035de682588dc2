// The one module that imports sharp. Training (through the worker's twin of letterboxGeometry),
// import validation and serving all see an item the same way: auto-oriented RGB, cropped to its bbox,
// long side resized to `size`, padded to a square with white, image centred.
import { webcrypto } from 'node:crypto';
import sharp, { type Metadata, type Sharp } from 'sharp';
import type { ImageLimits } from '../config.js';
import type { Bbox } from '../domain.js';
import { AppError, ErrorCode } from '../errors.js';

export type ImageInput = string | Buffer;

/** How a model wants its input; travels with every artifact in model.json. */
export interface PreprocessSpec {
  size: number;
  /** Grey level of the padding, 0-255 (255 = white, as the seed pads). */
  padValue: number;
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
}

export const IMAGENET_PREPROCESS: PreprocessSpec = {
  size: 224,
  padValue: 255,
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
};

export class ImageError extends AppError {
  constructor(message: string) {
    super(ErrorCode.BAD_USER_INPUT, message);
    this.name = 'ImageError';
  }
}

export interface ImageInfo {
  /** Width and height after EXIF orientation, the frame bboxes refer to. */
  width: number;
  height: number;
  format: string;
}

export interface LetterboxGeometry {
  /** Size of the resized crop inside the square. */
  width: number;
  height: number;
  /** Offset of the resized crop from the square's top-left corner. */
  left: number;
  top: number;
}

/** Where a crop of cropWidth x cropHeight lands in a size x size square: long side = size, centred. */
export function letterboxGeometry(cropWidth: number, cropHeight: number, size: number): LetterboxGeometry {
  const scale = size / Math.max(cropWidth, cropHeight);
  const width = Math.min(size, Math.max(1, Math.round(cropWidth * scale)));
  const height = Math.min(size, Math.max(1, Math.round(cropHeight * scale)));
  return { width, height, left: Math.floor((size - width) / 2), top: Math.floor((size - height) / 2) };
}

/** Explains why a bbox does not fit an image, or returns null when it does. */
export function bboxProblem(bbox: Bbox, width: number, height: number): string | null {
  const { xmin, ymin, xmax, ymax } = bbox;
  if (![xmin, ymin, xmax, ymax].every(Number.isInteger)) {
    return `bbox coordinates must be integers, got (${xmin}, ${ymin}, ${xmax}, ${ymax})`;
  }
  if (xmax <= xmin || ymax <= ymin) {
    return `bbox must have positive area (xmax > xmin and ymax > ymin), got (${xmin}, ${ymin}, ${xmax}, ${ymax})`;
  }
  if (xmin < 0 || ymin < 0 || xmax > width || ymax > height) {
    return `bbox (${xmin}, ${ymin}, ${xmax}, ${ymax}) must lie inside the ${width}x${height} image`;
  }
  return null;
}

function describeSharpFailure(error: unknown): ImageError {
  const message = error instanceof Error ? error.message : String(error);
  if (/unsupported image format|bad seek|Input file is missing|Input buffer is empty/i.test(message)) {
    return new ImageError('image cannot be decoded: not a supported image format (JPEG, PNG, WebP, GIF, TIFF, AVIF)');
  }
  if (/pixel limit/i.test(message)) return new ImageError(`image is over the pixel limit: ${message}`);
  return new ImageError(`image data is corrupt or truncated: ${message.replace(/\s+/g, ' ').trim()}`);
}

function open(input: ImageInput, limits: ImageLimits): Sharp {
  if (Buffer.isBuffer(input) && input.length > limits.maxBytes) {
    throw new ImageError(`image is ${input.length} bytes, over the limit of ${limits.maxBytes} bytes`);
  }
  // failOn 'error' (not the stricter default 'warning') keeps real-world JPEGs with harmless libjpeg
  // warnings while refusing truncated or corrupt data.
  return sharp(input, { failOn: 'error', limitInputPixels: limits.maxPixels, autoOrient: true });
}

/** Reads the header only; enforces the pixel limit before any pixel is decoded. */
async function header(input: ImageInput, limits: ImageLimits): Promise<ImageInfo> {
  let meta: Metadata;
  try {
    // No pixel limit here: reading a header decodes nothing, and the size it reports lets the
    // refusal below name the image's dimensions and the limit.
    meta = await sharp(input, { limitInputPixels: false, autoOrient: true }).metadata();
  } catch (error) {
    throw describeSharpFailure(error);
  }
  const width = meta.autoOrient?.width ?? meta.width;
  const height = meta.autoOrient?.height ?? meta.height;
  if (!width || !height) throw new ImageError('image cannot be decoded: it declares no width or height');
  if (width * height > limits.maxPixels) {
    throw new ImageError(`image is ${width}x${height} = ${width * height} pixels, over the limit of ${limits.maxPixels} pixels (FASHION_HOW_MAX_IMAGE_PIXELS)`);
  }
  return { width, height, format: meta.format };
}

/**
 * Checks that an image decodes completely and returns its oriented size. Decoding goes through a small
 * thumbnail so JPEGs may use shrink-on-load: every byte is read, few pixels are made.
 */
export async function inspectImage(input: ImageInput, limits: ImageLimits): Promise<ImageInfo> {
  const image = open(input, limits);
  const info = await header(input, limits);
  try {
    await image.resize(32, 32, { fit: 'inside' }).raw().toBuffer();
  } catch (error) {
    throw describeSharpFailure(error);
  }
  return info;
}

export interface Preprocessed {
  /** CHW, normalised: (pixel / 255 - mean) / std. */
  tensor: Float32Array;
  geometry: LetterboxGeometry;
  source: ImageInfo;
}

export interface Letterboxed {
  /** The model's input before normalisation: size x size interleaved RGB, padding included. */
  pixels: Uint8Array;
  geometry: LetterboxGeometry;
  source: ImageInfo;
}

const JPEG_START_OF_SCAN = Buffer.from([0xff, 0xda]);
const JPEG_END_OF_IMAGE = Buffer.from([0xff, 0xd9]);
const PNG_END_CHUNK = Buffer.from([0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82]);

/**
 * Whether an encoded photo provably runs to its format's end, from a few byte comparisons; false when
 * it does not or when the format has no such cheap proof. Only a photo that passes may be decoded
 * down to its box alone: any other is decoded whole, and a truncated one refused as before.
 */
export function endsWhole(data: Buffer, format: string): boolean {
  switch (format) {
    case 'jpeg':
      // Entropy-coded data holds no 0xFF 0xD9 or 0xFF 0xDA (a data byte 0xFF is followed by 0x00), so
      // an end-of-image marker after the last start-of-scan means the last scan was not cut short.
      return data.lastIndexOf(JPEG_END_OF_IMAGE) > data.lastIndexOf(JPEG_START_OF_SCAN);
    case 'png':
      return data.lastIndexOf(PNG_END_CHUNK) !== -1;
    case 'webp':
      // RIFF: bytes 4-7 are the length of everything after byte 7.
      return data.length >= 12 && data.toString('latin1', 0, 4) === 'RIFF' && data.length >= 8 + data.readUInt32LE(4);
    default:
      return false;
  }
}

/** Decodes, crops to the bbox and letterboxes to spec.size: the pixels a model sees, as 8-bit RGB. */
export async function letterbox(input: ImageInput, bbox: Bbox, spec: PreprocessSpec, limits: ImageLimits): Promise<Letterboxed> {
  const image = open(input, limits);
  const source = await header(input, limits);
  const problem = bboxProblem(bbox, source.width, source.height);
  if (problem) throw new ImageError(problem);
  const cropWidth = bbox.xmax - bbox.xmin;
  const cropHeight = bbox.ymax - bbox.ymin;
  const geometry = letterboxGeometry(cropWidth, cropHeight, spec.size);
  const pad = { r: spec.padValue, g: spec.padValue, b: spec.padValue };
  const extract = { left: bbox.xmin, top: bbox.ymin, width: cropWidth, height: cropHeight };
  let crop: Buffer;
  try {
    let pixels: Sharp;
    if (Buffer.isBuffer(input) && endsWhole(input, source.format)) {
      // One pipeline straight from the file: libvips decodes the rows down to the box's last one and
      // no further, and no full-size raw copy of the photo is made (4.3-5.3 against 5.4-8.3 ms of CPU
      // per image on bench:serve's photos). The end marker stands in for the rows left undecoded.
      pixels = image;
    } else {
      // Decode the whole image first: cropping straight from the file would let libvips stop reading
      // after the bbox's last row, and a truncated or corrupt tail would go unnoticed.
      const decoded = await image.toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
      const { width, height, channels } = decoded.info;
      pixels = sharp(decoded.data, { raw: { width, height, channels } });
    }
    crop = await pixels
      .extract(extract)
      .resize(geometry.width, geometry.height, { fit: 'fill', kernel: 'linear' })
      .toColourspace('srgb')
      .flatten({ background: pad })
      .removeAlpha()
      .raw()
      .toBuffer();
  } catch (error) {
    throw describeSharpFailure(error);
  }
  if (crop.length !== geometry.width * geometry.height * 3) {
    throw new ImageError(`image decoded to an unexpected layout (${crop.length} bytes for ${geometry.width}x${geometry.height} RGB)`);
  }
  const { size } = spec;
  const pixels = new Uint8Array(size * size * 3).fill(spec.padValue);
  for (let y = 0; y < geometry.height; y++) {
    pixels.set(crop.subarray(y * geometry.width * 3, (y + 1) * geometry.width * 3), ((geometry.top + y) * size + geometry.left) * 3);
  }
  return { pixels, geometry, source };
}

/** Interleaved size x size RGB to the CHW tensor a model takes: (pixel / 255 - mean) / std. */
export function normalise(pixels: Uint8Array, spec: PreprocessSpec): Float32Array {
  const plane = spec.size * spec.size;
  const tensor = new Float32Array(3 * plane);
  // As pixel x scale + offset in doubles, rounded once to float32: the same float32 as the formula for
  // every 8-bit value of the specs in use (tested), and a third faster than a lookup table per channel.
  const [scaleR, scaleG, scaleB] = spec.std.map((std) => 1 / (255 * std)) as [number, number, number];
  const [offsetR, offsetG, offsetB] = spec.mean.map((mean, c) => -mean / spec.std[c]!) as [number, number, number];
  // One pass over the pixels, writing the three planes: a third faster than a pass per channel.
  for (let i = 0, p = 0; i < plane; i++, p += 3) {
    tensor[i] = pixels[p]! * scaleR + offsetR;
    tensor[plane + i] = pixels[p + 1]! * scaleG + offsetG;
    tensor[2 * plane + i] = pixels[p + 2]! * scaleB + offsetB;
  }
  return tensor;
}

/** Decodes, crops to the bbox, letterboxes to spec.size and normalises into a CHW tensor. */
export async function preprocess(input: ImageInput, bbox: Bbox, spec: PreprocessSpec, limits: ImageLimits): Promise<Preprocessed> {
  const { pixels, geometry, source } = await letterbox(input, bbox, spec, limits);
  return { tensor: normalise(pixels, spec), geometry, source };
}

/** Encodes interleaved 8-bit RGB pixels as a JPEG (synthetic data, test fixtures). */
export function encodeJpeg(rgb: Uint8Array, width: number, height: number, quality = 90): Promise<Buffer> {
  return sharp(rgb, { raw: { width, height, channels: 3 } })
    .jpeg({ quality })
    .toBuffer();
}

/** Encodes interleaved 8-bit pixels (1 to 4 channels) as a PNG. */
export function encodePng(pixels: Uint8Array, width: number, height: number, channels: 1 | 2 | 3 | 4): Promise<Buffer> {
  return sharp(pixels, { raw: { width, height, channels } }).png().toBuffer();
}

/** A small JPEG of an item's bbox (the dashboard's worst-confusions gallery). */
export async function cropPreview(input: ImageInput, bbox: Bbox, side: number, limits: ImageLimits): Promise<Buffer> {
  const source = await header(input, limits);
  const problem = bboxProblem(bbox, source.width, source.height);
  if (problem) throw new ImageError(problem);
  return previewJpeg(open(input, limits).extract({ left: bbox.xmin, top: bbox.ymin, width: bbox.xmax - bbox.xmin, height: bbox.ymax - bbox.ymin }), side);
}

/** The whole photo, auto-oriented like the crops (so a bbox scales onto it), fitting in side x side. */
export async function photoPreview(input: ImageInput, side: number, limits: ImageLimits): Promise<Buffer> {
  await header(input, limits);
  return previewJpeg(open(input, limits), side);
}

async function previewJpeg(image: Sharp, side: number): Promise<Buffer> {
  try {
    return await image.resize(side, side, { fit: 'inside' }).flatten({ background: '#ffffff' }).jpeg({ quality: 85 }).toBuffer();
  } catch (error) {
    throw describeSharpFailure(error);
  }
}

/** What the prediction log and the drift report know of a crop: its pixels' hash and simple statistics. */
export interface CropStats {
  /** sha256 of the crop's 8-bit RGB pixels as decoded: the same crop hashes the same in any encoding. */
  sha256: string;
  /** Mean luma (0.299 R + 0.587 G + 0.114 B), 0 to 255. */
  brightness: number;
  red: number;
  green: number;
  blue: number;
  width: number;
  height: number;
  /** Box width over box height. */
  aspect: number;
}

/** The crop's statistics, and its JPEG (`jpegSide` px on its longer side) when asked for: one decode. */
export async function cropStats(input: ImageInput, bbox: Bbox, limits: ImageLimits, jpegSide?: number): Promise<{ stats: CropStats; jpeg?: Buffer }> {
  const source = await header(input, limits);
  const problem = bboxProblem(bbox, source.width, source.height);
  if (problem) throw new ImageError(problem);
  const width = bbox.xmax - bbox.xmin;
  const height = bbox.ymax - bbox.ymin;
  let pixels: Buffer;
  try {
    pixels = await open(input, limits).extract({ left: bbox.xmin, top: bbox.ymin, width, height }).removeAlpha().toColourspace('srgb').raw().toBuffer();
  } catch (error) {
    throw describeSharpFailure(error);
  }
  // The sums and the hash run off the event loop (libvips' threads, WebCrypto's pool): a 40-megapixel
  // crop is 120 MB of pixels, which a loop here would hold every request up for.
  const raw = sharp(pixels, { raw: { width, height, channels: 3 } });
  const [{ channels }, digest] = await Promise.all([raw.stats(), webcrypto.subtle.digest('SHA-256', pixels)]);
  const [r, g, b] = channels.map((c) => c.mean) as [number, number, number];
  const stats = {
    sha256: Buffer.from(digest).toString('hex'),
    brightness: 0.299 * r + 0.587 * g + 0.114 * b,
    red: r,
    green: g,
    blue: b,
    width,
    height,
    aspect: width / height,
  };
  if (jpegSide === undefined) return { stats };
  const jpeg = await previewJpeg(sharp(pixels, { raw: { width, height, channels: 3 } }), jpegSide);
  return { stats, jpeg };
}
