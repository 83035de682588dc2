// Change notices between processes that share one PostgreSQL database (serving replicas, the CLI, workers):
// the PubSub interface over LISTEN/NOTIFY, so a subscription on one replica sees a run changed through
// another. PostgreSQL is already there; no broker of our own.
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { flavourOf } from '../db/client.js';
import type { Logger } from '../log.js';
import { type ChangeNotices, LocalPubSub, type PubSub, type Topic } from './pubsub.js';

/** One channel per topic, namespaced so other applications on the same database cannot collide. */
export const CHANNELS: Record<Topic, string> = {
  runChanged: 'fashion_how_run_changed',
  predictionJobChanged: 'fashion_how_prediction_job_changed',
  reportAdded: 'fashion_how_report_added',
  ensemblesChanged: 'fashion_how_ensembles_changed',
  importProgress: 'fashion_how_import_progress',
};
const TOPIC_OF = new Map(Object.entries(CHANNELS).map(([topic, channel]) => [channel, topic as Topic]));

/** What travels in a NOTIFY payload: the sender (so a process skips its own echo) and the notice. */
interface Envelope {
  from: string;
  notice: unknown;
}

export interface PgPubSubOptions {
  log: Logger;
  /** Reconnect delays after the listening connection drops: doubling from the first to the last. */
  backoffMs?: { first: number; most: number };
  /** How often the listening connection is asked `SELECT 1`, and how long any query or connection
   *  attempt may take: a network cut without a reset leaves a socket that looks open for hours (TCP
   *  keepalive's defaults), and a LISTEN connection that only receives would never notice. */
  heartbeatMs?: number;
}

/** Whether a database URL names PostgreSQL (the scheme is all this looks at). */

/** The URL without its password, for logs and errors. */
function redacted(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'an unparsable PostgreSQL URL';
  }
}

/**
 * Notices published in this process reach its own subscribers at once (in publish order) and go to
 * the others through pg_notify on a one-connection pool, so one process's notices keep their order.
 * Notices from other processes arrive on one dedicated listening connection per process. When that
 * connection drops it is re-opened with backoff; subscribers keep their iterators, and notices sent
 * while it was down are not replayed (NOTIFY is not stored): a notice names a row to re-read, so the
 * next notice about the same row brings its whole current state, and clients that must not miss one
 * re-read after a gap.
 */
export class PgPubSub implements PubSub {
  /** Fans notices out to this process's subscribers. */
  private readonly local = new LocalPubSub();
  private readonly id = randomUUID();
  private readonly publisher: pg.Pool;
  private listener?: pg.Client;
  private reconnectTimer?: NodeJS.Timeout;
  private heartbeat?: NodeJS.Timeout;
  /** pg_notify calls not yet answered: close() lets them finish (a pool that ends drops queued queries). */
  private readonly sending = new Set<Promise<unknown>>();
  private delay: number;
  private closed = false;
  private readonly backoff: { first: number; most: number };
  private readonly heartbeatMs: number;
  /** Times the listening connection was (re-)established: tests and logs read it. */
  connections = 0;

  private constructor(
    private readonly url: string,
    private readonly options: PgPubSubOptions,
    private readonly driver: typeof pg,
  ) {
    this.backoff = options.backoffMs ?? { first: 100, most: 5_000 };
    this.delay = this.backoff.first;
    this.heartbeatMs = options.heartbeatMs ?? 15_000;
    // A pooled connection whose query times out is discarded by the pool, so a dead one cannot hold up
    // the notices queued behind it.
    this.publisher = new driver.Pool({
      connectionString: url,
      max: 1,
      keepAlive: true,
      query_timeout: this.heartbeatMs,
      connectionTimeoutMillis: this.heartbeatMs,
    });
    // An idle pooled connection that dies (server restart) is replaced on the next query; without a
    // listener its error would crash the process.
    this.publisher.on('error', (error) => options.log.warn({ err: error }, 'a PostgreSQL connection for notices dropped'));
  }

  /** Opens the listening connection; fails (naming the server, not the password) when it cannot. */
  static async open(url: string, options: PgPubSubOptions): Promise<PgPubSub> {
    // The driver is loaded by a process on PostgreSQL only: on SQLite (the default) it is start-up time for nothing.
    const pubsub = new PgPubSub(url, options, (await import('pg')).default);
    try {
      await pubsub.listen();
    } catch (error) {
      await pubsub.publisher.end();
      throw new Error(`cannot LISTEN for change notices on ${redacted(url)}: ${(error as Error).message}`);
    }
    return pubsub;
  }

  publish<T extends Topic>(topic: T, notice: ChangeNotices[T]): void {
    if (this.closed) return;
    this.local.publish(topic, notice);
    const payload = JSON.stringify({ from: this.id, notice } satisfies Envelope);
    const sent = this.publisher.query('SELECT pg_notify($1, $2)', [CHANNELS[topic], payload]).catch((error: unknown) => {
      // Other processes miss this notice; the write it announces is stored, and they read it on their
      // next notice about the row (see the class comment).
      this.options.log.warn({ err: error, topic }, 'could not send a change notice to other processes');
    });
    this.sending.add(sent);
    void sent.finally(() => this.sending.delete(sent));
  }

  subscribe<T extends Topic>(topic: T): AsyncIterableIterator<ChangeNotices[T]> {
    return this.local.subscribe(topic);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.heartbeat);
    this.local.close();
    const listener = this.listener;
    this.listener = undefined;
    // A short-lived process (the CLI) publishes and closes at once: its notices still go out.
    await Promise.allSettled(this.sending);
    await Promise.allSettled([listener?.end(), this.publisher.end()]);
  }

  private async listen(): Promise<void> {
    const client = new this.driver.Client({
      connectionString: this.url,
      keepAlive: true,
      query_timeout: this.heartbeatMs,
      connectionTimeoutMillis: this.heartbeatMs,
    });
    client.on('notification', ({ channel, payload }) => this.received(channel, payload));
    // 'error' comes first when the backend is terminated or the network drops, then 'end'; both lead to
    // one reconnect.
    client.on('error', (error) => this.options.log.warn({ err: error }, 'the PostgreSQL connection listening for change notices failed'));
    client.on('end', () => this.dropped(client));
    await client.connect();
    try {
      for (const channel of Object.values(CHANNELS)) await client.query(`LISTEN ${channel}`);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    if (this.closed) {
      await client.end();
      return;
    }
    this.listener = client;
    this.connections += 1;
    this.delay = this.backoff.first;
    this.heartbeat ??= setInterval(() => this.probe(), this.heartbeatMs).unref();
  }

  /** Asks the listening connection to answer; one that does not within a heartbeat (query_timeout) is
   *  given up and replaced. */
  private probe() {
    const client = this.listener;
    if (!client) return;
    client.query('SELECT 1').catch((error: unknown) => {
      if (this.listener !== client) return;
      this.options.log.warn({ err: error }, 'the PostgreSQL connection listening for change notices stopped answering');
      this.dropped(client);
      // Ending a connection whose peer is gone can wait on the socket; nothing waits on it.
      void client.end().catch(() => undefined);
    });
  }

  private dropped(client: pg.Client) {
    if (this.closed || this.listener !== client) return;
    this.listener = undefined;
    this.options.log.warn('listening for change notices again after the connection dropped; notices sent meanwhile are lost');
    this.scheduleReconnect();
  }

  private scheduleReconnect() {
    if (this.closed) return;
    const wait = this.delay;
    this.delay = Math.min(this.delay * 2, this.backoff.most);
    this.reconnectTimer = setTimeout(() => {
      this.listen().catch((error: unknown) => {
        this.options.log.warn({ err: error, retryInMs: this.delay }, 'could not listen for change notices yet');
        this.scheduleReconnect();
      });
    }, wait);
  }

  private received(channel: string, payload: string | undefined) {
    const topic = TOPIC_OF.get(channel);
    if (!topic || payload === undefined) return;
    let envelope: Envelope;
    try {
      envelope = JSON.parse(payload) as Envelope;
    } catch {
      this.options.log.warn({ channel }, 'ignored a change notice that is not JSON');
      return;
    }
    if (envelope.from === this.id) return; // delivered locally when it was published
    this.local.publish(topic, envelope.notice as ChangeNotices[typeof topic]);
  }
}

/** The PubSub a process needs for its database: LISTEN/NOTIFY on PostgreSQL, where processes on any
 *  host share it; in-process on SQLite, which has no notices between processes (replicas on one SQLite
 *  file follow the default ensemble by polling, and their subscriptions see their own writes only). */
export async function openPubSub(databaseUrl: string, log: Logger): Promise<PubSub> {
  return flavourOf(databaseUrl) === 'postgresql' ? PgPubSub.open(databaseUrl, { log }) : new LocalPubSub();
}
