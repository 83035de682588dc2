// The shared, content-addressed store of ONNX graphs, training checkpoints and dataset photos, opened
// from the settings: a folder (any shared mount) or an S3-compatible bucket.
import type { ArtifactStoreSettings } from '../config.js';
import { type ArtifactStore, DirectoryStore } from './contentStore.js';
import { S3Store } from './s3.js';

export * from './contentStore.js';

/** The store the settings describe, caching fetched objects under `cacheDir`. */
export function openArtifactStore(settings: ArtifactStoreSettings, cacheDir: string): ArtifactStore {
  switch (settings.kind) {
    case 'directory':
      return new DirectoryStore(settings.dir, cacheDir);
    case 's3':
      return new S3Store(settings, cacheDir);
    default: {
      const unknown: never = settings;
      throw new Error(`unknown artifact store ${JSON.stringify(unknown)}`);
    }
  }
}
