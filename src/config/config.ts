import { resolve } from 'node:path';
import { z } from 'zod';

/**
 * Every environment variable Vigil reads is declared here, with its default and what it expects. Nothing
 * else in src/ reads process.env. An invalid value stops start-up with one line naming the variable.
 */
const portSchema = z.coerce
  .number({ message: 'an integer from 0 to 65535' })
  .int('an integer from 0 to 65535')
  .min(0, 'an integer from 0 to 65535')
  .max(65535, 'an integer from 0 to 65535');

function positiveInt(what: string) {
  return z.coerce.number({ message: what }).int(what).positive(what);
}

const databaseUrlSchema = z.string().refine((value) => {
  try {
    const url = new URL(value);
    return url.protocol === 'postgres:' || url.protocol === 'postgresql:';
  } catch {
    return false;
  }
}, 'a postgres:// or postgresql:// connection URL');

const envSchema = z.object({
  DATABASE_URL: databaseUrlSchema.optional(),
  VIGIL_HOME: z.string().min(1, 'a directory path').default('./.vigil'),
  VIGIL_HOST: z.string().min(1, 'a host name or IP address').default('127.0.0.1'),
  VIGIL_PORT: portSchema.default(3000),
  VIGIL_PUBLIC_URL: z.url('an absolute http(s) URL').optional(),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      message: 'one of fatal, error, warn, info, debug, trace, silent',
    })
    .default('info'),
  VIGIL_DB_POOL_SIZE: positiveInt('a positive integer').default(20),
  VIGIL_LEASE_SECONDS: positiveInt('a positive number of seconds').default(30),
  VIGIL_WORKER_CONCURRENCY: positiveInt('a positive integer').default(64),
  VIGIL_MAX_PAYLOAD_BYTES: positiveInt('a positive number of bytes').default(1024 * 1024),
  VIGIL_RUN_TIMEOUT_SECONDS: positiveInt('a positive number of seconds').default(300),
});

export interface Config {
  /** Unset means: start the embedded PostgreSQL under `home`. */
  databaseUrl: string | undefined;
  home: string;
  host: string;
  port: number;
  publicUrl: string | undefined;
  logLevel: z.infer<typeof envSchema>['LOG_LEVEL'];
  dbPoolSize: number;
  leaseSeconds: number;
  workerConcurrency: number;
  maxPayloadBytes: number;
  runTimeoutSeconds: number;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Reads and validates the environment. Throws ConfigError with one line per bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const present = Object.fromEntries(
    Object.entries(env).filter(([key, value]) => key in envSchema.shape && value !== ''),
  );
  const parsed = envSchema.safeParse(present);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0]);
      // Never echo DATABASE_URL back: it may hold a password.
      const shown = name === 'DATABASE_URL' ? '' : ` (got ${JSON.stringify(env[name])})`;
      return `${name} must be ${issue.message}${shown}`;
    });
    throw new ConfigError(lines.join('\n'));
  }
  const e = parsed.data;
  return {
    databaseUrl: e.DATABASE_URL,
    home: resolve(e.VIGIL_HOME),
    host: e.VIGIL_HOST,
    port: e.VIGIL_PORT,
    publicUrl: e.VIGIL_PUBLIC_URL,
    logLevel: e.LOG_LEVEL,
    dbPoolSize: e.VIGIL_DB_POOL_SIZE,
    leaseSeconds: e.VIGIL_LEASE_SECONDS,
    workerConcurrency: e.VIGIL_WORKER_CONCURRENCY,
    maxPayloadBytes: e.VIGIL_MAX_PAYLOAD_BYTES,
    runTimeoutSeconds: e.VIGIL_RUN_TIMEOUT_SECONDS,
  };
}

/** The URL with its password replaced, fit for a log line or an error message. */
export function redactDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparseable URL)';
  }
}
