// PgPubSub against the real PostgreSQL server: two instances stand for two processes sharing one
// database. Each run makes its own database (NOTIFY channels are per database, so parallel runs never
// hear each other) and drops it afterwards.
import net from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { flavourOf } from '../src/db/client.js';
import { createLogger } from '../src/log.js';
import { CHANNELS, openPubSub, PgPubSub } from '../src/pubsub/postgresPubSub.js';
import { LocalPubSub } from '../src/pubsub/pubsub.js';
import { onServer, scratchPostgresDatabase } from './fixtures/databases.js';
import { eventually } from './helpers.js';

let database: string;
let url: string;
let drop: () => Promise<void>;
const log = createLogger({ logLevel: 'silent' });
const open: PgPubSub[] = [];
const fast = { log, backoffMs: { first: 50, most: 400 } };

async function openOne(): Promise<PgPubSub> {
  const pubsub = await PgPubSub.open(url, fast);
  open.push(pubsub);
  return pubsub;
}

/** The first `count` notices of an iterator, or a failure after `timeoutMs`. */
async function take<T>(iterator: AsyncIterator<T>, count: number, timeoutMs = 10_000): Promise<T[]> {
  const got: T[] = [];
  const deadline = Date.now() + timeoutMs;
  while (got.length < count) {
    const next = await Promise.race([
      iterator.next(),
      new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), Math.max(1, deadline - Date.now()))),
    ]);
    if (next === 'timeout') throw new Error(`received ${got.length} of ${count} notices within ${timeoutMs} ms`);
    if (next.done) throw new Error(`the iterator ended after ${got.length} of ${count} notices`);
    got.push(next.value);
  }
  return got;
}

/** The backend pids listening on a channel of this test's database. */
const listeners = () =>
  onServer(async (client) =>
    (await client.query<{ pid: number }>(`SELECT pid FROM pg_stat_activity WHERE datname = $1 AND query LIKE 'LISTEN %'`, [database])).rows.map((r) => r.pid),
  );

beforeAll(async () => {
  ({ name: database, url, drop } = await scratchPostgresDatabase('fashion_how_pubsub'));
});
afterAll(async () => {
  await Promise.all(open.map((p) => p.close()));
  await drop?.();
});

describe('PgPubSub', () => {
  it('delivers notices published in one process to subscribers in another, in order, for many notices', async () => {
    const [a, b] = [await openOne(), await openOne()];
    const runs = b.subscribe('runChanged');
    const reports = b.subscribe('reportAdded');
    const ensembles = b.subscribe('ensemblesChanged');
    for (let runId = 1; runId <= 500; runId++) a.publish('runChanged', { runId });
    a.publish('reportAdded', { reportId: 7 });
    a.publish('ensemblesChanged', { ensembleId: 3 });
    expect(await take(runs, 500)).toEqual(Array.from({ length: 500 }, (_, i) => ({ runId: i + 1 })));
    expect(await take(reports, 1)).toEqual([{ reportId: 7 }]);
    expect(await take(ensembles, 1)).toEqual([{ ensembleId: 3 }]);
    // The publisher's own subscribers get its notices once (locally), not a second time as an echo.
    const own = a.subscribe('runChanged');
    a.publish('runChanged', { runId: 501 });
    b.publish('runChanged', { runId: 502 });
    expect(await take(own, 2)).toEqual([{ runId: 501 }, { runId: 502 }]);
    const extra = await Promise.race([own.next(), new Promise((resolve) => setTimeout(() => resolve('none'), 500))]);
    expect(extra).toBe('none');
    for (const iterator of [runs, reports, ensembles, own]) await iterator.return?.();
  });

  it('listens on namespaced channels, so a NOTIFY from any client reaches subscribers', async () => {
    const b = await openOne();
    const runs = b.subscribe('runChanged');
    expect(CHANNELS.runChanged).toBe('fashion_how_run_changed');
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query('SELECT pg_notify($1, $2)', [CHANNELS.runChanged, JSON.stringify({ from: 'psql', notice: { runId: 42 } })]);
    await client.query('SELECT pg_notify($1, $2)', [CHANNELS.runChanged, 'not json']);
    await client.query('SELECT pg_notify($1, $2)', [CHANNELS.runChanged, JSON.stringify({ from: 'psql', notice: { runId: 43 } })]);
    await client.end();
    expect(await take(runs, 2)).toEqual([{ runId: 42 }, { runId: 43 }]);
    await runs.return?.();
  });

  it('re-listens after its connection is killed, and the same iterator receives later notices', async () => {
    const [a, b] = [await openOne(), await openOne()];
    const runs = b.subscribe('runChanged');
    a.publish('runChanged', { runId: 1 });
    expect(await take(runs, 1)).toEqual([{ runId: 1 }]);
    const before = await listeners();
    expect(before).toHaveLength(open.length); // one listening connection per open instance
    // Kill every listening backend of this database: b's (and a's) connection drops under them.
    await onServer((client) =>
      client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND query LIKE $2', [database, 'LISTEN %']),
    );
    const connectionsBefore = b.connections;
    await eventually(async () => (b.connections > connectionsBefore && a.connections > 1 ? true : undefined), 'b and a to listen again', 10_000, 20);
    expect((await listeners()).some((pid) => before.includes(pid))).toBe(false);
    for (let runId = 2; runId <= 50; runId++) a.publish('runChanged', { runId });
    expect(await take(runs, 49)).toEqual(Array.from({ length: 49 }, (_, i) => ({ runId: i + 2 })));
    await runs.return?.();
  });

  it('gives up a listening connection that stops answering without a reset (a network cut) and listens again', async () => {
    // A TCP proxy in front of the server whose open connections can be frozen: bytes stop flowing both
    // ways, but no side sees a reset, as when a firewall or NAT forgets a connection. New connections
    // pass as before.
    const target = new URL(url);
    const sockets: net.Socket[] = [];
    const proxy = net.createServer((incoming) => {
      const outgoing = net.connect(Number(target.port || 5432), target.hostname);
      sockets.push(incoming, outgoing);
      incoming.pipe(outgoing).pipe(incoming);
      incoming.on('error', () => undefined);
      outgoing.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const proxied = new URL(url);
    proxied.host = `127.0.0.1:${(proxy.address() as net.AddressInfo).port}`;
    const a = await openOne();
    const b = await PgPubSub.open(proxied.toString(), { ...fast, heartbeatMs: 300 });
    try {
      const runs = b.subscribe('runChanged');
      a.publish('runChanged', { runId: 1 });
      expect(await take(runs, 1)).toEqual([{ runId: 1 }]);
      // Freeze every connection open now: b's listener hears nothing more, and nobody sees a reset.
      for (const socket of sockets) {
        socket.unpipe();
        socket.pause();
      }
      a.publish('runChanged', { runId: 2 }); // sent into the cut: lost, as the README says
      await eventually(async () => (b.connections > 1 ? true : undefined), 'b to notice the silent connection and listen again', 10_000, 20);
      for (let runId = 3; runId <= 20; runId++) a.publish('runChanged', { runId });
      expect(await take(runs, 18)).toEqual(Array.from({ length: 18 }, (_, i) => ({ runId: i + 3 })));
      await runs.return?.();
    } finally {
      for (const socket of sockets) socket.destroy();
      await b.close();
      await new Promise((resolve) => proxy.close(resolve));
    }
  });

  it('close() first sends the notices published just before it, as a short-lived CLI process needs', async () => {
    const b = await openOne();
    const runs = b.subscribe('runChanged');
    const a = await PgPubSub.open(url, fast);
    for (let runId = 1; runId <= 100; runId++) a.publish('runChanged', { runId });
    await a.close();
    expect(await take(runs, 100)).toEqual(Array.from({ length: 100 }, (_, i) => ({ runId: i + 1 })));
    await runs.return?.();
  });

  it('close() ends the iterators of its subscribers, even one waiting for a notice', async () => {
    const b = await PgPubSub.open(url, fast);
    const runs = b.subscribe('runChanged');
    const waiting = runs.next();
    await b.close();
    expect(await waiting).toEqual({ done: true, value: undefined });
    expect(await runs.next()).toEqual({ done: true, value: undefined });
  });

  it('openPubSub chooses LISTEN/NOTIFY for postgres:// and postgresql:// URLs and in-process otherwise', async () => {
    expect(flavourOf('postgresql://u@h/db')).toBe('postgresql');
    expect(flavourOf('postgres://u@h/db')).toBe('postgresql');
    expect(flavourOf('file:/tmp/x.db')).toBe('sqlite');
    expect(await openPubSub('file:/tmp/fashion-how.db', log)).toBeInstanceOf(LocalPubSub);
    const pg = await openPubSub(url.replace(/^postgresql:/, 'postgres:'), log);
    open.push(pg as PgPubSub);
    expect(pg).toBeInstanceOf(PgPubSub);
    await expect(openPubSub('postgresql://postgres:secret@127.0.0.1:1/nowhere', log)).rejects.toThrow(
      /^cannot LISTEN for change notices on postgresql:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/nowhere: /,
    );
  });
});
