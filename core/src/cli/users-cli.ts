/**
 * wsq-users: manages the users file the services read with --users (scrypt hashes, never
 * passwords). Exit status: 0 done, 1 the file could not be written, 2 bad usage.
 *
 *   wsq-users add NAME --users FILE [--password-stdin] [--publish P,…] [--subscribe P,…] [--admin | --no-admin]
 *   wsq-users remove NAME --users FILE
 *   wsq-users list --users FILE
 */
import { existsSync } from 'node:fs';
import type { ReadStream } from 'node:tty';
import { Command, CommanderError, Option } from 'commander';
import { ConfigError } from '../protocol/errors.js';
import { versionLine } from '../config/version.js';
import { isValidPattern } from '../protocol/topics.js';
import { USER_NAME_PATTERN, hashPassword, readUsersFile, writeUsersFile, type UsersFile } from '../front/users.js';

const NAME = 'wsq-users';
/** A password longer than this on stdin is refused rather than buffered without end. */
const MAX_PASSWORD_BYTES = 1024;

export interface UsersCliIo {
  stdin: NodeJS.ReadableStream & Partial<Pick<ReadStream, 'isTTY' | 'setRawMode' | 'isRaw'>>;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

/** Bad usage: printed as one line, exit status 2. */
class UsageError extends Error {}

function usersOption(): Option {
  return new Option('--users <file>', 'the users file (JSON, created mode 0600 by add)')
    .env('WSQ_USERS')
    .makeOptionMandatory();
}

function parsePatterns(flag: string, value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const patterns = value
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
  const bad = patterns.find((p) => !isValidPattern(p));
  if (bad !== undefined) {
    throw new UsageError(
      `${flag}: ${JSON.stringify(bad)} is not a topic pattern (tokens separated by ".", * for one token, > for the rest)`,
    );
  }
  return patterns;
}

function checkName(name: string): void {
  if (!USER_NAME_PATTERN.test(name)) {
    throw new UsageError(`bad user name ${JSON.stringify(name)}: 1-64 characters of A-Z a-z 0-9 . _ @ -`);
  }
}

function load(path: string, create: boolean): UsersFile {
  if (create && !existsSync(path)) return { version: 1, users: {} };
  return readUsersFile(path);
}

/** Reads the whole of stdin (bounded) and drops one trailing newline. */
async function passwordFromStdin(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stdin) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    size += buf.length;
    if (size > MAX_PASSWORD_BYTES + 2) throw new UsageError(`the password is longer than ${MAX_PASSWORD_BYTES} bytes`);
    chunks.push(buf);
  }
  return Buffer.concat(chunks)
    .toString('utf8')
    .replace(/\r?\n$/, '');
}

/** Reads one line from a terminal without echoing it. */
function readHidden(prompt: string, io: UsersCliIo): Promise<string> {
  const { stdin } = io;
  return new Promise((resolve, reject) => {
    io.stderr.write(prompt);
    let value = '';
    const wasRaw = stdin.isRaw === true;
    stdin.setRawMode!(true);
    stdin.setEncoding('utf8');
    const finish = (): void => {
      stdin.off('data', onData);
      stdin.setRawMode!(wasRaw);
      stdin.pause();
      io.stderr.write('\n');
    };
    const onData = (chunk: string): void => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') {
          finish();
          return resolve(value);
        }
        if (ch === '\u0003' || (ch === '\u0004' && value === '')) {
          finish(); // Ctrl-C, or Ctrl-D on an empty line
          return reject(new UsageError('no password given'));
        }
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else if (ch >= ' ') value += ch;
      }
    };
    stdin.on('data', onData);
    stdin.resume();
  });
}

async function readPassword(io: UsersCliIo, fromStdin: boolean): Promise<string> {
  let password: string;
  if (fromStdin) {
    password = await passwordFromStdin(io.stdin);
  } else {
    if (io.stdin.isTTY !== true || !io.stdin.setRawMode) {
      throw new UsageError('stdin is not a terminal to prompt on: pass the password with --password-stdin');
    }
    password = await readHidden('Password: ', io);
    const again = await readHidden('Repeat password: ', io);
    if (again !== password) throw new UsageError('the passwords differ');
  }
  if (password.length === 0) throw new UsageError('refusing an empty password');
  if (Buffer.byteLength(password) > MAX_PASSWORD_BYTES)
    throw new UsageError(`the password is longer than ${MAX_PASSWORD_BYTES} bytes`);
  return password;
}

function describe(p: { publish: readonly string[]; subscribe: readonly string[]; admin?: boolean }): string {
  const list = (l: readonly string[]) => (l.length === 0 ? '(none)' : l.join(','));
  return `publish: ${list(p.publish)}  subscribe: ${list(p.subscribe)}${p.admin === true ? '  admin' : ''}`;
}

function buildProgram(io: UsersCliIo): Command {
  const program = new Command(NAME)
    .description('Manage the wsq users file (scrypt password hashes and topic permissions).')
    .helpOption('-h, --help', 'show this help and exit')
    .version(versionLine(), '--version', 'print the version and exit')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .showHelpAfterError(`(run ${NAME} --help for usage)`);

  program
    .command('add')
    .description("add a user, or set an existing user's password (and patterns, when given)")
    .argument('<name>', 'user name: 1-64 of A-Z a-z 0-9 . _ @ -')
    .addOption(usersOption())
    .option('--password-stdin', 'read the password from stdin (otherwise prompt twice on the terminal)')
    .option('--publish <patterns>', 'comma-separated topic patterns the user may publish to (new user default: >)')
    .option('--subscribe <patterns>', 'comma-separated topic patterns the user may subscribe to (new user default: >)')
    .option('--admin', 'may use the admin API, e.g. list and delete durable consumers (new user default: no)')
    .option('--no-admin', 'may not use the admin API')
    .action(
      async (
        name: string,
        o: { users: string; passwordStdin?: boolean; publish?: string; subscribe?: string; admin?: boolean },
      ) => {
        checkName(name);
        const publish = parsePatterns('--publish', o.publish);
        const subscribe = parsePatterns('--subscribe', o.subscribe);
        const file = load(o.users, true);
        const password = await readPassword(io, o.passwordStdin === true);
        const old = file.users[name];
        const admin = o.admin ?? old?.admin === true;
        const record = {
          password: await hashPassword(password),
          publish: publish ?? old?.publish ?? ['>'],
          subscribe: subscribe ?? old?.subscribe ?? ['>'],
          ...(admin && { admin: true }),
        };
        file.users[name] = record;
        writeUsersFile(o.users, file);
        io.stdout.write(`${old ? 'updated' : 'added'} user ${name} (${describe(record)}) in ${o.users}\n`);
      },
    );

  program
    .command('remove')
    .description('remove a user')
    .argument('<name>', 'user name')
    .addOption(usersOption())
    .action((name: string, o: { users: string }) => {
      const file = load(o.users, false);
      if (!(name in file.users)) throw new UsageError(`no user ${JSON.stringify(name)} in ${o.users}`);
      delete file.users[name];
      writeUsersFile(o.users, file);
      io.stdout.write(`removed user ${name} from ${o.users}\n`);
    });

  program
    .command('list')
    .description('list users and their topic patterns (never the hashes)')
    .addOption(usersOption())
    .action((o: { users: string }) => {
      const users = Object.entries(load(o.users, false).users).sort(([a], [b]) => a.localeCompare(b));
      if (users.length === 0) io.stdout.write('(no users)\n');
      const width = Math.max(0, ...users.map(([n]) => n.length));
      for (const [name, rec] of users) io.stdout.write(`${name.padEnd(width)}  ${describe(rec)}\n`);
    });
  return program;
}

export async function runUsersCli(argv: readonly string[], io: UsersCliIo): Promise<number> {
  try {
    await buildProgram(io).parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof UsageError || err instanceof ConfigError) {
      io.stderr.write(`${NAME}: ${err.message}\n`);
      return 2;
    }
    io.stderr.write(`${NAME}: ${(err as Error).message}\n`);
    return 1;
  }
}
