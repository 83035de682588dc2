// Following subscriptions over graphql-ws: a run's runUpdated until it ends, the deadline passes or the
// socket fails (the client then polls instead); an upload's importProgress.
import { print } from 'graphql';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import {
  ImportProgressDocument,
  type ImportProgressSubscription,
  type RunFieldsFragment,
  RunUpdatedDocument,
  type RunUpdatedSubscription,
} from './generated.js';
import { FashionHowError } from './types.js';

/** `ended` is the run once it is no longer cancellable; otherwise why following stopped. */
export async function followRunUpdates(url: string, token: string | undefined, id: string, deadline: number, onProgress?: (run: RunFieldsFragment) => void) {
  const client = createClient({
    url,
    webSocketImpl: WebSocket,
    lazy: true,
    retryAttempts: 0,
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
  });
  const updates = client.iterate<RunUpdatedSubscription>({ query: print(RunUpdatedDocument), variables: { id } });
  let timedOut = false;
  let last: RunFieldsFragment | undefined;
  const timer = setTimeout(
    () => {
      timedOut = true;
      void updates.return?.();
    },
    Math.max(0, deadline - Date.now()),
  );
  try {
    for await (const result of updates) {
      const error = result.errors?.[0];
      if (error) throw new FashionHowError(String(error.extensions?.code ?? 'INTERNAL_SERVER_ERROR'), error.message, error.extensions ?? {});
      last = result.data!.runUpdated;
      onProgress?.(last);
      if (!last.cancellable) return { ended: last };
    }
  } catch (error) {
    // A GraphQL error is the answer; anything else is the socket failing, and polling takes over.
    if (error instanceof FashionHowError) throw error;
  } finally {
    clearTimeout(timer);
    await client.dispose();
  }
  return { ended: undefined, timedOut, last };
}

/** Follows an upload's importProgress until it is DONE or FAILED, or stop() is called. Progress is
 *  best effort: resolves `ready` once the socket is open (or could not be), so the upload can start. */
export function followImportProgress(
  url: string,
  token: string | undefined,
  id: string,
  onProgress: (progress: ImportProgressSubscription['importProgress']) => void,
) {
  let ready!: () => void;
  const opened = new Promise<void>((resolve) => (ready = resolve));
  const client = createClient({
    url,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
    on: { connected: () => ready(), closed: () => ready(), error: () => ready() },
  });
  const updates = client.iterate<ImportProgressSubscription>({ query: print(ImportProgressDocument), variables: { id } });
  const following = (async () => {
    try {
      for await (const result of updates) if (result.data) onProgress(result.data.importProgress);
    } catch {
      // Progress is a courtesy: the mutation's answer is what counts.
    }
  })();
  return {
    ready: opened,
    async stop() {
      await updates.return?.();
      await following;
      await client.dispose();
    },
  };
}
