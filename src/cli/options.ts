// Parsers of the command's option values: each names the option and the value it got.
import { InvalidArgumentError } from 'commander';
import { SPLITS, type Split } from '../domain.js';

export function int(name: string, min: number) {
  return (raw: string) => {
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}, got "${raw}"`);
    return value;
  };
}

export function number(raw: string) {
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new InvalidArgumentError(`must be a number, got "${raw}"`);
  return value;
}

export function choice<T extends string>(choices: readonly T[]) {
  return (raw: string) => {
    if (!(choices as readonly string[]).includes(raw)) throw new InvalidArgumentError(`choose one of ${choices.join(', ')}`);
    return raw as T;
  };
}

export const list = (raw: string) =>
  raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);

export function fraction(raw: string) {
  const value = Number(raw);
  if (!(value >= 0 && value < 1)) throw new InvalidArgumentError(`must be at least 0 and below 1, got "${raw}"`);
  return value;
}

/** "0,1" -> [0, 1]: CUDA device indices, each once. */
export function gpuList(value: string): number[] {
  const gpus = value.split(',').map((part) => Number(part.trim()));
  if (gpus.length === 0 || gpus.some((g) => !Number.isInteger(g) || g < 0) || new Set(gpus).size !== gpus.length) {
    throw new InvalidArgumentError(`--gpus must be distinct device indices separated by commas, e.g. 0,1; got "${value}"`);
  }
  return gpus;
}

/** A split name, or ALL (every item). */
export function splitOrAll(raw: string): Split | 'ALL' {
  const split = raw.toUpperCase();
  if (split !== 'ALL' && !(SPLITS as readonly string[]).includes(split)) throw new InvalidArgumentError(`choose one of ${SPLITS.join(', ')}, ALL`);
  return split as Split | 'ALL';
}
