// fashion-how/sdk: the typed client for programs (pipelines, notebooks, services).
export { FashionHowClient } from './client.js';
export type * from './generated.js';
export {
  type Classification,
  type ClassifyOptions,
  type ClientOptions,
  FashionHowError,
  type ImageInput,
  type PageOptions,
  type WaitOptions,
} from './types.js';
