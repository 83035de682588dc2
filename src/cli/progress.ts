// Progress for long work: a bar on a terminal, plain lines (at most one per 10% or 5 s) otherwise,
// so logs from CI or pipes stay readable.
import cliProgress from 'cli-progress';

export interface Progress {
  update(done: number, total: number): void;
  stop(): void;
}

export function createProgress(label: string, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      { format: `${label} [{bar}] {percentage}% | {value}/{total} | {eta_formatted} left`, stream, hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update(done, total) {
        if (!started) {
          bar.start(total, done);
          started = true;
        } else bar.update(done, { total });
        bar.setTotal(total);
      },
      stop: () => started && bar.stop(),
    };
  }
  let lastTenth = -1;
  let lastAt = 0;
  return {
    update(done, total) {
      const tenth = Math.floor((10 * done) / Math.max(total, 1));
      const now = Date.now();
      if (tenth !== lastTenth || now - lastAt > 5000 || done === total) {
        if (done === total && lastTenth === 10) return;
        stream.write(`${label}: ${done}/${total}\n`);
        lastTenth = tenth;
        lastAt = now;
      }
    },
    stop: () => undefined,
  };
}
