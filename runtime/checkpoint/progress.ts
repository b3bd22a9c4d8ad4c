// Progress for big loads: a callback for programs, and a single self-overwriting stderr line for people.
// The line only appears on a terminal, so logs and pipes stay clean.
import path from 'node:path';

export interface LoadProgress {
  /** The weight file (or index) being read. */
  file: string;
  bytesRead: number;
  totalBytes: number;
}

const TTY_MIN_BYTES = 100 * 1024 * 1024;
const TTY_INTERVAL_MS = 100;

const gb = (n: number): string => (n / 1e9).toFixed(2);

/** Returns a per-chunk byte counter and a finish function (which ends the stderr line, if one was drawn). */
export function progressReporter(
  file: string, totalBytes: number, onProgress?: (p: LoadProgress) => void, quiet = false,
): { onBytes: (n: number) => void; finish: () => void } {
  const tty = !quiet && totalBytes > TTY_MIN_BYTES && process.stderr.isTTY === true;
  let bytesRead = 0;
  let lastDraw = 0;
  let drawn = false;
  const draw = (): void => {
    const pct = totalBytes > 0 ? Math.floor((100 * bytesRead) / totalBytes) : 100;
    process.stderr.write(`\rloading ${path.basename(file)}: ${gb(bytesRead)} / ${gb(totalBytes)} GB (${pct}%)`);
    drawn = true;
  };
  return {
    onBytes: (n) => {
      bytesRead += n;
      onProgress?.({ file, bytesRead, totalBytes });
      if (tty && Date.now() - lastDraw >= TTY_INTERVAL_MS) {
        lastDraw = Date.now();
        draw();
      }
    },
    finish: () => {
      if (!drawn) return;
      draw();
      process.stderr.write('\n');
    },
  };
}
