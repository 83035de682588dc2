// One driver per race among every server on the database: the race's lease (Sweep.raceDriver and
// raceDriverAt). The driver takes it with one conditional UPDATE, renews it every heartbeat, checks it
// before each decision, and gives it back when the race ends or its server closes; a lease nobody renewed
// for the timeout (a server killed or cut off) is another server's to take (raceService.ts drives races).
import { randomUUID } from 'node:crypto';
import type { Db } from '../db/client.js';
import { PROCESS_ID } from '../host.js';

/** How a driver keeps its race: it renews its lease every `heartbeatMs`; a lease not renewed for
 *  `timeoutMs` (a server killed or cut off) is taken over by another server's watch. */
export interface DriverLease {
  heartbeatMs: number;
  timeoutMs: number;
}

export class RaceLeases {
  /** Who holds a lease: this process, and this service in it (two apps in one process are two servers). */
  private readonly driverId = `${PROCESS_ID}/${randomUUID().slice(0, 8)}`;

  constructor(
    private readonly db: Db,
    private readonly lease: DriverLease,
  ) {}

  /** The columns of a race this process creates and so drives from the start. */
  held(): { raceDriver: string; raceDriverAt: Date } {
    return { raceDriver: this.driverId, raceDriverAt: new Date() };
  }

  /** Takes the race's lease when nobody holds it, this service holds it, or its holder stopped renewing
   *  it: one conditional UPDATE, so of two servers that try at once exactly one gets it. */
  async claim(sweepId: number): Promise<boolean> {
    const now = new Date();
    const { count } = await this.db.sweep.updateMany({
      where: {
        id: sweepId,
        OR: [
          { raceDriver: null },
          { raceDriver: this.driverId },
          { raceDriverAt: null },
          { raceDriverAt: { lt: new Date(now.getTime() - this.lease.timeoutMs) } },
        ],
      },
      data: { raceDriver: this.driverId, raceDriverAt: now },
    });
    return count === 1;
  }

  /** Renews this service's lease; false when another server has taken the race over meanwhile. */
  async renew(sweepId: number): Promise<boolean> {
    const { count } = await this.db.sweep.updateMany({ where: { id: sweepId, raceDriver: this.driverId }, data: { raceDriverAt: new Date() } });
    return count === 1;
  }

  /** Gives the lease up (the race ended, or this server is closing and another may go on at once). */
  async release(sweepId: number): Promise<void> {
    await this.db.sweep.updateMany({ where: { id: sweepId, raceDriver: this.driverId }, data: { raceDriver: null, raceDriverAt: null } });
  }
}
