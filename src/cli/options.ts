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

/** A comma-separated list of integers, each at least `min`. */
export function intList(name: string, min: number) {
  const one = int(name, min);
  return (raw: string) => list(raw).map(one);
}

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

/** "30m", "90s", "2h", "1h30m" or plain seconds -> whole seconds. */
export function duration(raw: string): number {
  const text = raw.trim().toLowerCase();
  if (/^\d+$/.test(text)) return Number(text);
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)\s*(h|m|s)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text.replace(/\s+/g, '')) {
    throw new InvalidArgumentError(`expected a duration such as 30m, 90s, 2h or 1h30m, got "${raw}"`);
  }
  return Math.round(parts.reduce((total, [, amount, unit]) => total + Number(amount) * (unit === 'h' ? 3600 : unit === 'm' ? 60 : 1), 0));
}
