// The floods of bench/hostile.ts, each run in a process of its own: the attacking clients' own work
// (sending 32 MiB bodies, parsing large answers) must not sit on the event loop of the client whose
// latency is measured, as it would not where they are other machines.
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

export interface FloodContext {
  url: string;
  reportId: string;
  items: number[];
  floodTokens: string[];
}

const status = async (response: Promise<Response>) => {
  const r = await response;
  await r.arrayBuffer();
  return String(r.status);
};
const graphqlAnswer = async (response: Promise<Response>) => {
  const r = await response;
  const body = (await r.json()) as { errors?: { extensions?: { code?: string } }[] };
  return `${r.status} ${body.errors?.[0]?.extensions?.code ?? 'ok'}`;
};

/** Each flood: its name (with how many clients at once), and one request of one of its clients. */
export function floods({ url, reportId, items, floodTokens }: FloodContext): Record<string, (client: number, n: number) => Promise<string>> {
  const base = url.replace(/\/graphql$/, '');
  const auth = (token: string) => ({ authorization: `Bearer ${token}` });
  const post = (body: unknown, headers: Record<string, string> = {}) =>
    fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const body32MiB = Buffer.alloc(32 * 2 ** 20, 32);
  const frame90MB = Buffer.alloc(90_000_000, 32);
  return {
    'model cards (4 clients)': (client) => graphqlAnswer(post({ query: `{ report(id: "${reportId}") { modelCard } }` }, auth(floodTokens[client]!))),
    'three aliased model cards per request (4 clients)': (client) =>
      graphqlAnswer(
        post(
          { query: `{ a: report(id: "${reportId}") { modelCard } b: report(id: "${reportId}") { modelCard } c: report(id: "${reportId}") { modelCard } }` },
          auth(floodTokens[client]!),
        ),
      ),
    'item photos and crops (4 clients)': (client, n) =>
      status(fetch(`${base}/items/${items[(client * 31 + n) % items.length]}/${n % 2 ? 'crop' : 'photo'}.jpg`, { headers: auth(floodTokens[client]!) })),
    'nested connections, first as a variable (4 clients)': (client) =>
      graphqlAnswer(
        post(
          {
            query:
              'query($n: Int) { datasets { items(first: $n) { edges { node { dataset { items(first: $n) { edges { node { id predictions(limit: 100) { correct } } } } } } } } } }',
            variables: { n: 100 },
          },
          auth(floodTokens[client]!),
        ),
      ),
    '32 MiB /v2 bodies without a token (4 at a time)': () =>
      status(fetch(`${base}/v2/models/champion/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body32MiB })),
    '32 MiB GraphQL bodies with a forged token (4 at a time)': () =>
      status(fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer fh_forged' }, body: body32MiB })),
    '90 MB WebSocket frames before connection_init (4 at a time)': () =>
      new Promise<string>((resolve) => {
        const socket = new WebSocket(url.replace(/^http/, 'ws'), 'graphql-transport-ws');
        socket.on('open', () => socket.send(frame90MB));
        socket.on('close', (code) => resolve(`closed ${code}`));
        socket.on('unexpected-response', (_q, r) => resolve(`refused ${r.statusCode}`));
        socket.on('error', () => undefined);
      }),
    'subscriptions, 200 per socket (2 clients)': (client) =>
      new Promise<string>((resolve) => {
        const ws = createClient({ url: url.replace(/^http/, 'ws'), webSocketImpl: WebSocket, connectionParams: auth(floodTokens[client]!), retryAttempts: 0 });
        let refused = 0;
        const ends = Array.from({ length: 200 }, () =>
          ws.subscribe({ query: 'subscription { runsUpdated { id } }' }, { next: () => undefined, error: () => refused++, complete: () => undefined }),
        );
        setTimeout(() => {
          for (const end of ends) end();
          void ws.dispose();
          resolve(`${200 - refused} taken, ${refused} refused`);
        }, 500);
      }),
  };
}

/** How many clients a flood runs at once (the number in its name). */
export const clientsOf = (name: string) => Number(/\((\d+)/.exec(name)?.[1] ?? 1);

// As a process (`node --import tsx bench/hostileFloods.ts FLOOD CONTEXT_JSON`): runs the named flood until
// a line arrives on stdin, then prints what its requests were answered (JSON) and exits.
if (process.argv[1]?.endsWith('hostileFloods.ts') && process.argv[2]) {
  const [flood, context] = [process.argv[2], JSON.parse(process.argv[3]!) as FloodContext];
  const send = floods(context)[flood]!;
  let running = true;
  const answers: Record<string, number> = {};
  process.stdin.once('data', () => {
    running = false;
  });
  await Promise.all(
    Array.from({ length: clientsOf(flood) }, async (_, client) => {
      for (let n = 0; running; n++) {
        const outcome = await send(client, n).catch((error: Error) => `error ${(error.cause as { code?: string })?.code ?? error.message}`);
        answers[outcome] = (answers[outcome] ?? 0) + 1;
        // A request refused at once (no server yet, a reset) must not keep stdin's stop from being read.
        await new Promise((resolve) => setImmediate(resolve));
      }
    }),
  );
  process.stdout.write(`${JSON.stringify(answers)}\n`);
  process.exit(0);
}
