// The kinds of value a setting takes (integer, flag, share, choice, text) and how each is read from the
// environment and named in errors: settings.ts declares every setting with them.
import path from 'node:path';

export type Env = Record<string, string | undefined>;

/** What defaults may depend on: the data folder and the listening address, read first. */
export interface Base {
  dataDir: string;
  host: string;
}

export interface Setting<T> {
  name: string;
  /** The values it takes, as a reader of the table sees them ("integer 0..65535", "true | false"). */
  type: string;
  /** The default, as the table shows it. */
  defaultText: string;
  description: string;
  /** Who reads it: the server and the CLI, or an SDK client. */
  scope: 'server' | 'client';
  read(env: Env, base: Base): T;
}

type Default<T> = T | ((base: Base) => T);
const resolve = <T>(value: Default<T>, base: Base): T => (typeof value === 'function' ? (value as (base: Base) => T)(base) : value);
const given = (env: Env, name: string) => (env[name] === undefined || env[name] === '' ? undefined : env[name]);

export function integer(
  name: string,
  description: string,
  options: { default: Default<number>; min: number; max?: number; defaultText?: string },
): Setting<number> {
  const { min, max = Number.MAX_SAFE_INTEGER } = options;
  return {
    name,
    type: max === Number.MAX_SAFE_INTEGER ? `integer >= ${min}` : `integer ${min}..${max}`,
    defaultText: options.defaultText ?? String(options.default),
    description,
    scope: 'server',
    read(env, base) {
      const raw = given(env, name);
      if (raw === undefined) return resolve(options.default, base);
      const value = Number(raw);
      if (!Number.isInteger(value) || value < min || value > max) throw new Error(`${name} must be an integer between ${min} and ${max}, got "${raw}"`);
      return value;
    },
  };
}

export function optionalInteger(name: string, description: string, options: { min: number; max: number; defaultText: string }): Setting<number | undefined> {
  const parse = integer(name, description, { default: 0, ...options });
  return { ...parse, read: (env, base) => (given(env, name) === undefined ? undefined : parse.read(env, base)) };
}

export function flag(name: string, description: string, fallback: Default<boolean>, defaultText = String(fallback)): Setting<boolean> {
  return {
    name,
    type: 'true | false',
    defaultText,
    description,
    scope: 'server',
    read(env, base) {
      const raw = given(env, name);
      if (raw === undefined) return resolve(fallback, base);
      if (['1', 'true', 'yes', 'on'].includes(raw.toLowerCase())) return true;
      if (['0', 'false', 'no', 'off'].includes(raw.toLowerCase())) return false;
      throw new Error(`${name} must be true or false, got "${raw}"`);
    },
  };
}

/** A number between 0 and 1 (a share of requests). */
export function fraction(name: string, description: string, fallback: number): Setting<number> {
  return {
    name,
    type: 'number 0..1',
    defaultText: String(fallback),
    description,
    scope: 'server',
    read(env) {
      const raw = given(env, name);
      if (raw === undefined) return fallback;
      const value = Number(raw);
      if (!(Number.isFinite(value) && value >= 0 && value <= 1)) throw new Error(`${name} must be a number between 0 and 1, got "${raw}"`);
      return value;
    },
  };
}

export function choice<T extends string>(name: string, description: string, choices: readonly T[], fallback: T): Setting<T> {
  return {
    name,
    type: choices.join(' | '),
    defaultText: fallback,
    description,
    scope: 'server',
    read(env) {
      const raw = given(env, name);
      if (raw === undefined) return fallback;
      if (!(choices as readonly string[]).includes(raw)) throw new Error(`${name} must be one of ${choices.join(', ')}, got "${raw}"`);
      return raw as T;
    },
  };
}

/** Free text (a URL, a command); `asPath` resolves it against the working folder. */
export function text(
  name: string,
  description: string,
  options: { default: Default<string>; defaultText?: string; type?: string; asPath?: boolean; scope?: 'server' | 'client' },
): Setting<string> {
  return {
    name,
    type: options.type ?? (options.asPath ? 'path' : 'text'),
    defaultText: options.defaultText ?? String(options.default),
    description,
    scope: options.scope ?? 'server',
    read(env, base) {
      const value = given(env, name) ?? resolve(options.default, base);
      return options.asPath ? path.resolve(value) : value;
    },
  };
}

export function optionalText(
  name: string,
  description: string,
  options: { defaultText: string; type?: string; asPath?: boolean; scope?: 'server' | 'client' },
): Setting<string | undefined> {
  return {
    name,
    type: options.type ?? (options.asPath ? 'path' : 'text'),
    defaultText: options.defaultText,
    description,
    scope: options.scope ?? 'server',
    read(env) {
      const value = given(env, name);
      return value !== undefined && options.asPath ? path.resolve(value) : value;
    },
  };
}
