// Following a run's runUpdated subscription over graphql-ws until it ends, the deadline passes or the
// socket fails (the client then polls instead).
import { print } from 'graphql';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { type RunFieldsFragment, RunUpdatedDocument, type RunUpdatedSubscription } from './generated.js';
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
