import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { testPython } from '../fixtures/python.js';

// The worker's own unit tests are Python (unittest); each module runs here so `npm test` counts them.
const dir = new URL('./worker/', import.meta.url).pathname;
const modules = readdirSync(dir).filter((f) => /^test_.*\.py$/.test(f));

describe('training worker (Python unit tests)', () => {
  it('has test modules to run', () => {
    expect(modules.length).toBeGreaterThanOrEqual(3);
  });

  for (const module of modules) {
    it(`passes ${module}`, async () => {
      const python = await testPython();
      const result = await promisify(execFile)(python.executable, ['-m', 'unittest', '-v', path.basename(module, '.py')], {
        cwd: dir,
        env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
      }).catch((error: { stderr: string }) => ({ stderr: error.stderr, failed: true }));
      expect(result.stderr).toMatch(/\nOK\s*$/);
      expect(result.stderr).toMatch(/Ran [1-9]\d* tests?/);
    });
  }
});
