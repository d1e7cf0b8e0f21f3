import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, redactDatabaseUrl } from '../../src/config/config.ts';

describe('loadConfig', () => {
  it('applies defaults when nothing is set', () => {
    const config = loadConfig({});
    expect(config.host).toBe('127.0.0.1');
    expect(config.port).toBe(3000);
    expect(config.databaseUrl).toBeUndefined();
    expect(config.home.endsWith('.vigil')).toBe(true);
  });

  it('names the variable and what it expects for a bad port', () => {
    expect(() => loadConfig({ VIGIL_PORT: 'eighty' })).toThrow(ConfigError);
    expect(() => loadConfig({ VIGIL_PORT: 'eighty' })).toThrow(
      'VIGIL_PORT must be an integer from 0 to 65535 (got "eighty")',
    );
    expect(() => loadConfig({ VIGIL_PORT: '70000' })).toThrow(/VIGIL_PORT must be an integer/);
  });

  it('refuses a DATABASE_URL that is not a postgres URL without echoing it', () => {
    let message = '';
    try {
      loadConfig({ DATABASE_URL: 'mysql://root:hunter2@db/x' });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toBe('DATABASE_URL must be a postgres:// or postgresql:// connection URL');
    expect(message).not.toContain('hunter2');
  });

  it('redacts the password of a database URL', () => {
    expect(redactDatabaseUrl('postgres://u:secret@h:5432/d')).toBe('postgres://u:***@h:5432/d');
  });
});
