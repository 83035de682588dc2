// What every subcommand shares: the services opened on the configured database, closed when done,
// and a wait for the signal that ends a long-running command.
import { type App, openApp } from '../app.js';
import { loadConfig } from '../config.js';

export async function withApp<T>(work: (app: App) => Promise<T>): Promise<T> {
  const app = await openApp(loadConfig());
  try {
    return await work(app);
  } finally {
    await app.close();
  }
}

export function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
}
