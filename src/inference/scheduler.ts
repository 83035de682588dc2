// The scheduler of the work classify requests share before their models (decoding and preprocessing in
// sharp, whose thread pool is first come, first served): at most `concurrency` tasks at once, the next
// one taken round-robin across clients.
import { RoundRobin } from './roundRobin.js';

/** Runs tasks at most `concurrency` at a time, taking the next one round-robin across clients, so one
 *  client's backlog delays another client's task by about one task per busy client, not by the whole backlog. */
export class FairScheduler {
  private readonly waiting = new RoundRobin<() => void>();
  private running = 0;

  constructor(private readonly concurrency: number) {}

  run<T>(client: string, task: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const start = () => {
        this.running++;
        Promise.resolve()
          .then(task) // a task that throws at once still frees its slot
          .then(resolve, reject)
          .finally(() => {
            this.running--;
            this.next();
          });
      };
      this.waiting.push(client, start);
      this.next();
    });
  }

  private next() {
    while (this.running < this.concurrency && this.waiting.size > 0) this.waiting.shift()!();
  }
}
