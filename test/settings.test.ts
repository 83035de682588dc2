import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIGURATION_PAGE, withGeneratedTable } from '../scripts/settings-doc.js';
import { loadConfig } from '../src/config.js';
import { SETTINGS } from '../src/settings.js';

describe('settings', () => {
  it('docs/configuration.md holds the table generated from src/settings.ts (run npm run docs:settings after a change)', () => {
    const page = readFileSync(CONFIGURATION_PAGE, 'utf8');
    expect(page).toBe(withGeneratedTable(page));
    for (const setting of Object.values(SETTINGS)) expect(page).toContain(`| \`${setting.name}\` |`);
  });

  it('reads every declared default when the environment is empty', () => {
    const config = loadConfig({});
    // Each figure as its declaration's default text says it, parsed independently of the declaration's reader.
    expect(config.port).toBe(Number(SETTINGS.port.defaultText));
    expect(config.serving.maxBatch).toBe(Number(SETTINGS.maxBatch.defaultText));
    expect(config.heartbeatTimeoutMs).toBe(Number(SETTINGS.heartbeatTimeoutMs.defaultText));
    expect(config.graphql.maxCost).toBe(50_000);
    expect(config.anonymousRead).toBe(true); // 127.0.0.1 is loopback
    expect(loadConfig({ HOST: '0.0.0.0' }).anonymousRead).toBe(false);
    expect(config.databaseUrl).toMatch(/^file:.*data\/fashion-how\.db$/);
  });

  it('names the variable and its limits for a bad value', () => {
    expect(() => loadConfig({ PORT: '70000' })).toThrow('PORT must be an integer between 0 and 65535, got "70000"');
    expect(() => loadConfig({ FASHION_HOW_INTROSPECTION: 'maybe' })).toThrow('FASHION_HOW_INTROSPECTION must be true or false, got "maybe"');
    expect(() => loadConfig({ LOG_LEVEL: 'loud' })).toThrow('LOG_LEVEL must be one of debug, info, warn, error, silent, got "loud"');
    expect(() => loadConfig({ FASHION_HOW_HEARTBEAT_MS: '20000' })).toThrow(
      'FASHION_HOW_HEARTBEAT_TIMEOUT_MS (30000) must be at least 3 x FASHION_HOW_HEARTBEAT_MS (20000)',
    );
  });
});
