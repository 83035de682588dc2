// Per-client waiting lines served in turn: the one piece of fairness that the preprocessing scheduler
// and the micro-batcher share, so one client's backlog delays another client by a turn, not by its length.

/** Items waiting per client; `shift` takes the oldest item of the client whose turn it is, and a client
 *  that still has items goes to the back of the line. */
export class RoundRobin<T> {
  /** Clients in the order they get their next turn (a Map keeps insertion order). */
  private readonly lines = new Map<string, T[]>();
  private count = 0;

  /** Items waiting, over every client. */
  get size(): number {
    return this.count;
  }

  /** Items waiting for this client. */
  sizeOf(client: string): number {
    return this.lines.get(client)?.length ?? 0;
  }

  push(client: string, ...items: T[]): void {
    const line = this.lines.get(client) ?? [];
    line.push(...items);
    this.lines.set(client, line);
    this.count += items.length;
  }

  shift(): T | undefined {
    const next = this.lines.entries().next();
    if (next.done) return undefined;
    const [client, line] = next.value;
    const item = line.shift()!;
    this.count--;
    this.lines.delete(client); // to the back of the line, if it has more
    if (line.length > 0) this.lines.set(client, line);
    return item;
  }
}
