// Run as its own process by artifactStore.test.ts, as a host elsewhere would: reads the store's settings
// from the environment, fetches one object into its own cache and prints the cached file and its sha256.
//   node --import tsx test/storage/fetchObject.ts <sha256> <kind>
import { loadConfig } from '../../src/config.js';
import { hashFile, type ObjectKind, openArtifactStore } from '../../src/storage/artifactStore.js';

const [sha256, kind] = process.argv.slice(2) as [string, ObjectKind];
const config = loadConfig();
const store = openArtifactStore(config.artifactStore, config.artifactCacheDir);
try {
  const file = await store.fetch(sha256, kind);
  console.log(JSON.stringify({ file, ...(await hashFile(file)) }));
} finally {
  await store.close();
}
