// findPython keeps what its probe found (torch's version, CUDA devices, the backbone registry) so that a
// process starting up does not import torch again; the kept answer must be the probe's own, and anything it
// depends on that changes must probe again. The interpreter is a real one behind a wrapper that counts the
// probes (the only program it runs that imports torch).
import { readdir, readFile, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { findPython } from '../../src/training/python.js';
import { useScratchDir } from '../helpers.js';

const scratch = useScratchDir();
let python: string;
let wrapper: string;
let calls: string;

/** How many full probes (programs that import torch) the wrapper has run. */
const probes = async () => (await readFile(calls, 'utf8').catch(() => '')).split('\n').filter((line) => line === 'probe').length;

beforeAll(async () => {
  python = (await findPython()).executable;
  wrapper = path.join(scratch.dir, 'python');
  calls = path.join(scratch.dir, 'calls');
  await writeFile(wrapper, `#!/bin/sh\ncase "$2" in *"import torch"*) echo probe >> "${calls}";; *) echo other >> "${calls}";; esac\nexec "${python}" "$@"\n`, {
    mode: 0o755,
  });
}, 120_000);

describe('the kept probe of the training Python', () => {
  it('answers what the probe answers, and probes once while nothing changes', async () => {
    const cache = path.join(scratch.dir, 'kept');
    const probed = await findPython(wrapper);
    expect(await probes()).toBe(1);
    const first = await findPython(wrapper, cache);
    expect(first).toEqual(probed);
    expect(await probes()).toBe(2);
    expect(await readdir(cache)).toHaveLength(1);
    // Again, and from the file alone: the interpreter runs only the fingerprint, which imports no torch.
    const second = await findPython(wrapper, cache);
    expect(second).toEqual(probed);
    expect(await probes()).toBe(2);
    expect((await readFile(calls, 'utf8')).split('\n').filter((line) => line === 'other').length).toBe(2);
  });

  it('probes again when the interpreter file, the environment or the entry itself changes', async () => {
    const cache = path.join(scratch.dir, 'changes');
    await findPython(wrapper, cache);
    const before = await probes();
    // The interpreter as named is another file (a reinstall): a new key.
    const later = new Date(Date.now() + 60_000);
    await utimes(wrapper, later, later);
    expect(await findPython(wrapper, cache)).toMatchObject({ executable: wrapper, cudaDevices: 0 });
    expect(await probes()).toBe(before + 1);
    // The worker's environment decides which devices torch sees: another value, another key.
    process.env.CUDA_VISIBLE_DEVICES = '';
    try {
      await findPython(wrapper, cache);
      expect(await probes()).toBe(before + 2);
    } finally {
      delete process.env.CUDA_VISIBLE_DEVICES;
    }
    expect(await readdir(cache)).toHaveLength(3);
    // An entry that cannot be read is probed again and written whole.
    const entries = await readdir(cache);
    for (const entry of entries) await writeFile(path.join(cache, entry), '{"torch": ');
    const answer = await findPython(wrapper, cache);
    expect(await probes()).toBe(before + 3);
    expect(answer.backbones).toContain('compact_s');
    const readable = [];
    for (const entry of await readdir(cache)) {
      try {
        readable.push(JSON.parse(await readFile(path.join(cache, entry), 'utf8')));
      } catch {
        // still the broken one of another key
      }
    }
    expect(readable).toEqual([expect.objectContaining({ torch: answer.torch, backbones: answer.backbones })]);
  });

  it('still answers when the folder cannot be written, and keeps nothing', async () => {
    // A file where the folder should be: mkdir fails, as on a read-only or full disk.
    const blocked = path.join(scratch.dir, 'blocked');
    await writeFile(blocked, 'not a folder');
    const before = await probes();
    expect((await findPython(wrapper, path.join(blocked, 'python'))).backbones).toContain('compact_s');
    expect(await probes()).toBe(before + 1);
    expect(await readFile(blocked, 'utf8')).toBe('not a folder');
  });

  it('never takes the interpreter from the file: a kept entry naming another one is not run', async () => {
    const cache = path.join(scratch.dir, 'forged');
    await findPython(wrapper, cache);
    const [entry] = await readdir(cache);
    const kept = JSON.parse(await readFile(path.join(cache, entry!), 'utf8'));
    await writeFile(path.join(cache, entry!), JSON.stringify({ ...kept, executable: '/bin/false' }));
    expect((await findPython(wrapper, cache)).executable).toBe(wrapper);
  });
});
