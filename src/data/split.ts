// Stratified train/validation split. Items are grouped by their full label tuple (one class per
// task), so every task's class shares are kept in both splits; the number of validation items is
// exactly round(n x fraction), handed out by largest remainder across the groups.
import seedrandom from 'seedrandom';
import type { Split } from '../domain.js';

export function stratifiedSplit(labels: readonly (readonly number[])[], validationFraction: number, seed: number): Split[] {
  if (!(validationFraction >= 0 && validationFraction < 1)) {
    throw new RangeError(`validationFraction must be in [0, 1), got ${validationFraction}`);
  }
  const groups = new Map<string, number[]>();
  labels.forEach((tuple, index) => {
    const key = tuple.join(',');
    const members = groups.get(key);
    if (members) members.push(index);
    else groups.set(key, [index]);
  });
  const keys = [...groups.keys()].sort();
  const rng = seedrandom(`split:${seed}`);
  const quotas = keys.map((key) => {
    const exact = groups.get(key)!.length * validationFraction;
    return { key, take: Math.floor(exact), remainder: exact - Math.floor(exact) };
  });
  let extra = Math.round(labels.length * validationFraction) - quotas.reduce((sum, q) => sum + q.take, 0);
  for (const quota of [...quotas].sort((a, b) => b.remainder - a.remainder || a.key.localeCompare(b.key))) {
    if (extra <= 0) break;
    quota.take += 1;
    extra -= 1;
  }
  const splits: Split[] = new Array(labels.length).fill('TRAIN');
  for (const { key, take } of quotas) {
    const members = groups.get(key)!;
    for (let i = members.length - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [members[i], members[j]] = [members[j]!, members[i]!];
    }
    for (let i = 0; i < take; i++) splits[members[i]!] = 'VALIDATION';
  }
  return splits;
}
