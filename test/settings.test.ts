import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIGURATION_PAGE, withGeneratedTable } from '../scripts/settings-doc.js';
import { loadConfig, workerEnvironment } from '../src/config.js';
import { maskServerPaths } from '../src/errors.js';
import { SETTINGS } from '../src/settings.js';

describe('settings', () => {
  it('docs/configuration.md holds the table generated from src/settings.ts (run npm run docs:settings after a change)', () => {
    const page = readFileSync(CONFIGURATION_PAGE, 'utf8');
    expect(page).toBe(withGeneratedTable(page));
    for (const setting of Object.values(SETTINGS)) expect(page).toContain(`| \`${setting.name}\` |`);
  });

  it('reads every declared default when the environment is empty', () => {
    const config = loadConfig({});
    // Each figure as its declaration's default text says it, parsed independently of the declaration's reader.
    expect(config.port).toBe(Number(SETTINGS.port.defaultText));
    expect(config.serving.maxBatch).toBe(Number(SETTINGS.maxBatch.defaultText));
    expect(config.heartbeatTimeoutMs).toBe(Number(SETTINGS.heartbeatTimeoutMs.defaultText));
    expect(config.graphql.maxCost).toBe(50_000);
    expect(config.anonymousRead).toBe(true); // 127.0.0.1 is loopback
    expect(loadConfig({ HOST: '0.0.0.0' }).anonymousRead).toBe(false);
    expect(config.databaseUrl).toMatch(/^file:.*data\/fashion-how\.db$/);
  });

  it('names the variable and its limits for a bad value', () => {
    expect(() => loadConfig({ PORT: '70000' })).toThrow('PORT must be an integer between 0 and 65535, got "70000"');
    expect(() => loadConfig({ FASHION_HOW_INTROSPECTION: 'maybe' })).toThrow('FASHION_HOW_INTROSPECTION must be true or false, got "maybe"');
    expect(() => loadConfig({ LOG_LEVEL: 'loud' })).toThrow('LOG_LEVEL must be one of debug, info, warn, error, silent, got "loud"');
    expect(() => loadConfig({ FASHION_HOW_HEARTBEAT_MS: '20000' })).toThrow(
      'FASHION_HOW_HEARTBEAT_TIMEOUT_MS (30000) must be at least 3 x FASHION_HOW_HEARTBEAT_MS (20000)',
    );
  });

  it('reads import roots and buckets, and refuses a bucket URL that is none', () => {
    const config = loadConfig({
      FASHION_HOW_IMPORT_ROOTS: '/srv/a, /srv/b/',
      FASHION_HOW_IMPORT_BUCKETS: 's3://team-data/fh,s3://other',
      FASHION_HOW_S3_ENDPOINT: 'http://127.0.0.1:9000',
    });
    expect(config.imports.roots).toEqual(['/srv/a', '/srv/b']);
    expect(config.imports.buckets).toEqual([
      { bucket: 'team-data', prefix: 'fh' },
      { bucket: 'other', prefix: '' },
    ]);
    expect(config.imports.s3.endpoint).toBe('http://127.0.0.1:9000');
    expect(loadConfig({}).imports).toMatchObject({ roots: [], buckets: [], maxRows: 200_000, archive: { maxEntries: 50_000, maxCompressionRatio: 100 } });
    expect(() => loadConfig({ FASHION_HOW_IMPORT_BUCKETS: 'team-data/fh' })).toThrow(
      /FASHION_HOW_IMPORT_BUCKETS must be s3:\/\/bucket\[\/prefix\], got "team-data\/fh"/,
    );
  });

  it("gives the training worker the interpreter's, CUDA's and BLAS's variables, never the server's secrets", () => {
    const kept = { PATH: '/usr/bin', HOME: '/root', LANG: 'C.UTF-8', CUDA_VISIBLE_DEVICES: '1', OMP_NUM_THREADS: '2', HTTPS_PROXY: 'http://proxy:3128' };
    const secrets = {
      DATABASE_URL: 'postgresql://u:secret@db/fh',
      AWS_SECRET_ACCESS_KEY: 's',
      AWS_ACCESS_KEY_ID: 'k',
      FASHION_HOW_TOKEN: 'fh_x',
      PGPASSWORD: 's',
    };
    expect(workerEnvironment({ ...kept, ...secrets })).toEqual(kept);
  });

  it('masks absolute server paths in what leaves the API, and leaves URLs and relative names alone', () => {
    // ONNX Runtime's message for an external-data initializer outside the model's folder, as measured.
    const ort =
      'Load model from /work/data/artifacts/incoming/3f2a.onnx failed: External data path: ../../../../etc/passwd is outside of the allowed directory: "/work/data/artifacts/incoming"';
    expect(maskServerPaths(ort)).toBe(
      'Load model from <server path> failed: External data path: ../../../../etc/passwd is outside of the allowed directory: "<server path>"',
    );
    const kept = 'image_name "2pants 2019/990_W06.jpg" in s3://team-data/fh/train.csv, see http://127.0.0.1:4000/graphql or images/a/b.jpg';
    expect(maskServerPaths(kept)).toBe(kept);
    expect(maskServerPaths('Traceback: File "/usr/lib/python3/dist-packages/torch/serialization.py", line 3')).toBe('Traceback: File "<server path>", line 3');
  });
});
