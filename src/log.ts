// Structured logs (JSON lines on stderr) for the server and long-running jobs.
import { type Logger, pino } from 'pino';
import type { AppConfig } from './config.js';

export type { Logger };

export function createLogger(config: Pick<AppConfig, 'logLevel'>): Logger {
  return pino({ level: config.logLevel, base: { service: 'fashion-how' } }, pino.destination(2));
}
