// What every subcommand shares: the services opened on the configured database, closed when done,
// the HTTP server for the commands that serve, and a wait for the signal that ends a long-running command.
import type { RunningServer } from '../api/server.js';
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

/** The HTTP server (express, Apollo, graphql-ws, the inference protocol's routes), its module loaded by the
 *  commands that serve only: importing it is about 0.4 s of every other command's start. */
export async function startServer(app: App): Promise<RunningServer> {
  const server = await import('../api/server.js');
  return server.startServer(app);
}
