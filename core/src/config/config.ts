/**
 * Configuration: flags > WSQ_* environment > --config JSON file > defaults. Parsed once,
 * validated field by field (then across fields by the service), frozen. This is the only
 * module that reads process.env.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { ConfigError } from '../protocol/errors.js';
import { versionLine } from './version.js';

export type OptionType = 'string' | 'int' | 'bool' | 'list';

export interface OptionSpec {
  /** camelCase key in the config object and JSON file; flag and env names derive from it. */
  key: string;
  type: OptionType;
  default: string | number | boolean | string[] | undefined;
  help: string;
  /** Unit shown in --help ("bytes", "ms", "messages"). */
  unit?: string;
  choices?: readonly string[];
  min?: number;
  max?: number;
  /** Masked by --print-config. */
  secret?: boolean;
  /** For a list: checks one item and returns it normalised; throws ConfigError naming the field. */
  item?: (value: string) => string;
  /**
   * For a bool: only the words true and false (not 1/0/yes/no/empty), so that a stray or empty
   * variable cannot turn it off (--tls).
   */
  explicit?: boolean;
}

export type ConfigValues = Readonly<Record<string, string | number | boolean | string[] | undefined>>;

export interface LoadOptions {
  service: string;
  description: string;
  argv?: readonly string[];
  env?: NodeJS.ProcessEnv;
  /** Cross-field checks and derived defaults; throw ConfigError naming the field. */
  finish?: (values: Record<string, unknown>) => void;
  /** Prefix of the environment variables (default WSQ_); clientdemo's are WSQ_CLIENT_*. */
  envPrefix?: string;
}

/** What the caller should do after parsing the command line. */
export type LoadResult =
  | {
      kind: 'run';
      config: ConfigValues;
      printConfig: boolean;
      /** Where each option was set (`--port`, `WSQ_PORT`, `FILE: port`), for later errors. */
      origins: ReadonlyMap<string, string>;
    }
  | { kind: 'exit'; code: number; output: string };

export function flagName(key: string): string {
  return '--' + key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}

export function envName(key: string, prefix = 'WSQ_'): string {
  return prefix + key.replace(/[A-Z]/g, (c) => '_' + c).toUpperCase();
}

function describe(spec: OptionSpec, prefix: string): string {
  const parts = [spec.help];
  if (spec.choices) parts.push(`one of: ${spec.choices.join(', ')}`);
  const def = spec.default;
  if (def !== undefined && !(Array.isArray(def) && def.length === 0)) {
    parts.push(`default: ${Array.isArray(def) ? def.join(',') : String(def)}${spec.unit ? ' ' + spec.unit : ''}`);
  } else if (spec.unit) {
    parts.push(`unit: ${spec.unit}`);
  }
  parts.push(`env ${envName(spec.key, prefix)}`);
  return parts.join('; ');
}

function buildCommand(specs: readonly OptionSpec[], opts: LoadOptions, out: string[]): Command {
  const prefix = opts.envPrefix ?? 'WSQ_';
  const cmd = new Command(`wsq-${opts.service}`)
    .description(opts.description)
    .helpOption('-h, --help', 'show this help and exit')
    .allowExcessArguments(false)
    .exitOverride()
    .configureOutput({ writeOut: (s) => out.push(s), writeErr: (s) => out.push(s) })
    .version(versionLine(), '--version', 'print the version and exit');
  cmd.addOption(new Option('--config <file>', `JSON file with options (camelCase keys); env ${prefix}CONFIG`));
  cmd.addOption(new Option('--print-config', 'print the effective configuration (secrets masked) and exit'));
  for (const spec of specs) {
    const flag = flagName(spec.key);
    const arg = spec.type === 'bool' ? '' : spec.type === 'list' ? ' <items>' : ' <value>';
    cmd.addOption(new Option(flag + arg, describe(spec, prefix)));
    // Defined after the positive flag, so commander leaves the value undefined (env and file
    // decide) unless one of the two is given.
    if (spec.type === 'bool') {
      const description = `same as ${flag}=false: turns it off over ${envName(spec.key, prefix)} and --config`;
      cmd.addOption(new Option(negatedFlag(spec.key), description));
    }
  }
  return cmd;
}

function negatedFlag(key: string): string {
  return '--no-' + flagName(key).slice(2);
}

/**
 * Commander takes `--name=value` only for options with a value, so a boolean's `--demo=true`
 * and `--demo=false` become `--demo` and `--no-demo` here; any other value is an error naming
 * the flag. A boolean never takes the next word (`--demo false`), as with Go's flag package.
 */
function expandBoolFlags(argv: readonly string[], specs: readonly OptionSpec[]): string[] {
  const bools = new Map(specs.filter((s) => s.type === 'bool').map((s) => [flagName(s.key), negatedFlag(s.key)]));
  const negated = new Set(bools.values());
  const takesValue = new Set(['--config', ...specs.filter((s) => s.type !== 'bool').map((s) => flagName(s.key))]);
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const eq = arg.indexOf('=');
    const name = eq < 0 ? arg : arg.slice(0, eq);
    if (eq < 0 && takesValue.has(arg)) {
      out.push(arg);
      if (i + 1 < argv.length) out.push(argv[++i]!);
    } else if (eq >= 0 && negated.has(name)) {
      throw new ConfigError(name, `takes no value, got ${JSON.stringify(arg.slice(eq + 1))}`);
    } else if (eq >= 0 && bools.has(name)) {
      const value = arg.slice(eq + 1);
      if (value === 'true') out.push(name);
      else if (value === 'false') out.push(bools.get(name)!);
      else throw new ConfigError(name, `expected true or false, got ${JSON.stringify(value)}`);
    } else {
      out.push(arg);
    }
  }
  return out;
}

/**
 * Converts one raw value to the spec's type and checks its range: text from a flag or env
 * (`"8080"`, `"yes"`, `"a,b"`), or a typed value (from the file, once checkFileTypes passed it).
 */
function coerce(spec: OptionSpec, raw: unknown): string | number | boolean | string[] {
  const field = spec.key;
  switch (spec.type) {
    case 'bool': {
      if (typeof raw === 'boolean') return raw;
      if (raw === 'true' || (!spec.explicit && (raw === '1' || raw === 'yes'))) return true;
      if (raw === 'false' || (!spec.explicit && (raw === '0' || raw === 'no' || raw === ''))) return false;
      throw new ConfigError(field, `expected true or false, got ${JSON.stringify(raw)}`);
    }
    case 'int': {
      const n =
        typeof raw === 'number' ? raw : typeof raw === 'string' && /^-?\d+$/.test(raw.trim()) ? Number(raw) : NaN;
      if (!Number.isSafeInteger(n)) throw new ConfigError(field, `expected an integer, got ${JSON.stringify(raw)}`);
      if (spec.min !== undefined && n < spec.min) throw new ConfigError(field, `must be >= ${spec.min}`);
      if (spec.max !== undefined && n > spec.max) throw new ConfigError(field, `must be <= ${spec.max}`);
      return n;
    }
    case 'list': {
      let items: string[];
      if (Array.isArray(raw) && raw.every((x) => typeof x === 'string')) items = raw as string[];
      else if (typeof raw === 'string')
        items = raw
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s.length > 0);
      else throw new ConfigError(field, 'expected a comma-separated list');
      return spec.item ? items.map(spec.item) : items;
    }
    case 'string': {
      if (typeof raw !== 'string') throw new ConfigError(field, 'expected a string');
      if (spec.choices && !spec.choices.includes(raw)) {
        throw new ConfigError(field, `must be one of ${spec.choices.join(', ')}, got ${JSON.stringify(raw)}`);
      }
      return raw;
    }
  }
}

/** What a --config file must hold for each option type: JSON values, not the text flags and env use. */
const FILE_TYPES: Readonly<Record<OptionType, { want: string; test: (raw: unknown) => boolean }>> = {
  string: { want: 'a JSON string', test: (raw) => typeof raw === 'string' },
  int: { want: 'a JSON number', test: (raw) => typeof raw === 'number' },
  bool: { want: 'true or false (JSON booleans)', test: (raw) => typeof raw === 'boolean' },
  list: {
    want: 'a JSON array of strings',
    test: (raw) => Array.isArray(raw) && raw.every((x) => typeof x === 'string'),
  },
};

/** Names a JSON value's type without echoing it (the value may be a password). */
function jsonTypeOf(raw: unknown): string {
  if (raw === null) return 'null';
  if (Array.isArray(raw)) return 'an array';
  return typeof raw === 'object' ? 'an object' : `a ${typeof raw}`;
}

/** Every key in the file must have its option's JSON type, even one a flag or env overrides. */
function checkFileTypes(specs: readonly OptionSpec[], file: Record<string, unknown>, fileName: string): void {
  for (const spec of specs) {
    const raw = file[spec.key];
    if (raw === undefined) continue;
    const { want, test } = FILE_TYPES[spec.type];
    if (!test(raw)) {
      const where = `${fileName}: ${spec.key}`;
      throw new ConfigError(spec.key, `must be ${want} in the config file, got ${jsonTypeOf(raw)}`, where);
    }
  }
}

/** `where` names how the file was given: --config or the CONFIG variable. */
function readConfigFile(file: string, specs: readonly OptionSpec[], where: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError('config', `cannot read ${file}: ${(err as Error).message}`, where);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError('config', `${file} must hold a JSON object`, where);
  }
  const known = new Set(specs.map((s) => s.key));
  for (const key of Object.keys(parsed)) {
    if (!known.has(key)) throw new ConfigError(key, 'unknown option', `${file}: ${key}`);
  }
  return parsed as Record<string, unknown>;
}

/** Where the operator set each option, so an error names what they typed. */
export interface ValueSources {
  envPrefix?: string;
  /** The --config file's name, for its errors. */
  fileName?: string;
}

/** Merges the four sources in precedence order and validates each field. */
export function resolveValues(
  specs: readonly OptionSpec[],
  flags: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  file: Record<string, unknown>,
  sources: ValueSources = {},
): Record<string, unknown> {
  return resolveWithOrigins(specs, flags, env, file, sources).values;
}

/**
 * resolveValues, plus what each option's value came from: `--port`, `WSQ_PORT`, `FILE: port`,
 * or the flag name for a default (what the operator would use to change it).
 */
function resolveWithOrigins(
  specs: readonly OptionSpec[],
  flags: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  file: Record<string, unknown>,
  sources: ValueSources,
): { values: Record<string, unknown>; origins: Map<string, string> } {
  const fileName = sources.fileName ?? 'the config file';
  checkFileTypes(specs, file, fileName);
  const values: Record<string, unknown> = {};
  const origins = new Map<string, string>();
  for (const spec of specs) {
    const variable = envName(spec.key, sources.envPrefix);
    const fromEnv = env[variable];
    let raw: unknown = spec.default;
    let origin = flagName(spec.key);
    if (flags[spec.key] !== undefined) raw = flags[spec.key];
    else if (fromEnv !== undefined) [raw, origin] = [fromEnv, variable];
    else if (file[spec.key] !== undefined) [raw, origin] = [file[spec.key], `${fileName}: ${spec.key}`];
    origins.set(spec.key, origin);
    try {
      values[spec.key] = raw === undefined ? undefined : coerce(spec, raw);
    } catch (err) {
      throw err instanceof ConfigError ? new ConfigError(err.field, err.detail, origin) : err;
    }
  }
  return { values, origins };
}

/** Parses argv/env/file. Never exits: returns what main should do, so it is testable. */
export function loadConfig(specs: readonly OptionSpec[], opts: LoadOptions): LoadResult {
  const out: string[] = [];
  const cmd = buildCommand(specs, opts, out);
  try {
    cmd.parse(expandBoolFlags(opts.argv ?? process.argv.slice(2), specs), { from: 'user' });
  } catch (err) {
    if (err instanceof ConfigError) {
      return { kind: 'exit', code: 2, output: `wsq-${opts.service}: invalid configuration: ${err.message}\n` };
    }
    if (err instanceof CommanderError) {
      const code = err.exitCode === 0 ? 0 : 2;
      return { kind: 'exit', code, output: out.join('') };
    }
    throw err;
  }
  const flags = cmd.opts<Record<string, unknown>>();
  const env = opts.env ?? process.env;
  const envPrefix = opts.envPrefix ?? 'WSQ_';
  try {
    const configFile = (flags.config as string | undefined) ?? env[`${envPrefix}CONFIG`];
    const configWhere = flags.config !== undefined ? '--config' : `${envPrefix}CONFIG`;
    const file = configFile ? readConfigFile(configFile, specs, configWhere) : {};
    const { values, origins } = resolveWithOrigins(specs, flags, env, file, { envPrefix, fileName: configFile });
    try {
      opts.finish?.(values);
    } catch (err) {
      // A cross-field check names a field: say where the operator set it.
      const origin = err instanceof ConfigError ? origins.get(err.field) : undefined;
      throw origin ? new ConfigError((err as ConfigError).field, (err as ConfigError).detail, origin) : err;
    }
    const config = Object.freeze(values) as ConfigValues;
    return { kind: 'run', config, printConfig: flags.printConfig === true, origins };
  } catch (err) {
    if (err instanceof ConfigError) {
      return { kind: 'exit', code: 2, output: `wsq-${opts.service}: invalid configuration: ${err.message}\n` };
    }
    throw err;
  }
}

/**
 * A ConfigError raised after loading (a certificate file that cannot be read, a --host the
 * service cannot listen on), renamed after where the operator set its field.
 */
export function nameOrigin(err: ConfigError, origins: ReadonlyMap<string, string>): ConfigError {
  const origin = origins.get(err.field);
  return origin ? new ConfigError(err.field, err.detail, origin) : err;
}

/** The effective configuration as JSON, with secrets masked. */
export function printableConfig(specs: readonly OptionSpec[], config: ConfigValues): string {
  const shown: Record<string, unknown> = {};
  for (const spec of specs) {
    const v = config[spec.key];
    shown[spec.key] = spec.secret && v !== undefined && v !== '' ? '********' : v;
  }
  return JSON.stringify(shown, null, 2) + '\n';
}
