// fashion-how/sdk: the typed client for programs (pipelines, notebooks, services).
export { type ClassifyOptions, type Classification, type ClientOptions, FashionHowClient, FashionHowError, type ImageInput, type PageOptions, type WaitOptions } from './client.js';
export type * from './generated.js';
