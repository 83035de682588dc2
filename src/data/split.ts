// Stratified train/validation(/test) split. Items are grouped by their full label tuple (one class per
// task), so every task's class shares are kept in every split; the number of items of a held-out split
// is exactly round(n x fraction), handed out by largest remainder across the groups. Validation is
// drawn first and test from what is left, so a test fraction of 0 gives the same split as before.
import seedrandom from 'seedrandom';
import type { Split } from '../domain.js';

/** How many of each group's items go to a split of `fraction` of `total` items: each group gives its
 *  share of its size, at most `caps` (what is left in it). */
function quotas(keys: string[], sizes: Map<string, number>, caps: Map<string, number>, total: number, fraction: number): Map<string, number> {
  const shares = keys.map((key) => {
    const exact = sizes.get(key)! * fraction;
    return { key, take: Math.min(Math.floor(exact), caps.get(key)!), remainder: exact - Math.floor(exact) };
  });
  let extra = Math.round(total * fraction) - shares.reduce((sum, q) => sum + q.take, 0);
  for (const share of [...shares].sort((a, b) => b.remainder - a.remainder || a.key.localeCompare(b.key))) {
    if (extra <= 0) break;
    if (share.take >= caps.get(share.key)!) continue;
    share.take += 1;
    extra -= 1;
  }
  return new Map(shares.map((q) => [q.key, q.take]));
}

/** Item indices grouped by their full label tuple ("2,0,1"), in item order within each group. */
function groupsByTuple(labels: readonly (readonly number[])[]): Map<string, number[]> {
  const groups = new Map<string, number[]>();
  labels.forEach((tuple, index) => {
    const key = tuple.join(',');
    const members = groups.get(key);
    if (members) members.push(index);
    else groups.set(key, [index]);
  });
  return groups;
}

/** Fisher-Yates in place with the seeded generator; returns the array. */
function shuffled(members: number[], rng: () => number): number[] {
  for (let i = members.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [members[i], members[j]] = [members[j]!, members[i]!];
  }
  return members;
}

export function stratifiedSplit(labels: readonly (readonly number[])[], validationFraction: number, seed: number, testFraction = 0): Split[] {
  if (!(validationFraction >= 0 && validationFraction < 1)) {
    throw new RangeError(`validationFraction must be in [0, 1), got ${validationFraction}`);
  }
  if (!(testFraction >= 0 && validationFraction + testFraction < 1)) {
    throw new RangeError(`testFraction must be at least 0 and leave training items (validation + test < 1), got ${testFraction}`);
  }
  const groups = groupsByTuple(labels);
  const keys = [...groups.keys()].sort();
  const rng = seedrandom(`split:${seed}`);
  const sizes = new Map(keys.map((k) => [k, groups.get(k)!.length]));
  const validation = quotas(keys, sizes, sizes, labels.length, validationFraction);
  const test = quotas(keys, sizes, new Map(keys.map((k) => [k, sizes.get(k)! - validation.get(k)!])), labels.length, testFraction);
  const splits: Split[] = new Array(labels.length).fill('TRAIN');
  for (const key of keys) {
    const members = shuffled(groups.get(key)!, rng);
    const toValidation = validation.get(key)!;
    for (let i = 0; i < toValidation; i++) splits[members[i]!] = 'VALIDATION';
    for (let i = toValidation; i < toValidation + test.get(key)!; i++) splits[members[i]!] = 'TEST';
  }
  return splits;
}

/** Stratified k-fold assignment: a fold index (0 to k-1) per item. Items are grouped by their full label
 *  tuple, shuffled within the group, and dealt to the folds in turn with one counter across the groups,
 *  so fold sizes differ by at most one and every label tuple is spread over the folds as evenly as it can be. */
export function stratifiedFolds(labels: readonly (readonly number[])[], folds: number, seed: number): number[] {
  if (!(Number.isInteger(folds) && folds >= 2)) throw new RangeError(`folds must be an integer of at least 2, got ${folds}`);
  const groups = groupsByTuple(labels);
  const rng = seedrandom(`folds:${seed}`);
  const assignment: number[] = new Array(labels.length).fill(0);
  let next = 0;
  for (const key of [...groups.keys()].sort()) {
    for (const member of shuffled(groups.get(key)!, rng)) {
      assignment[member] = next;
      next = (next + 1) % folds;
    }
  }
  return assignment;
}
