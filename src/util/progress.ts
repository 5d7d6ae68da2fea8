/**
 * The progress display of long work (downloads, layer statistics, MEND training): a cli-progress
 * bar with rate and ETA on a terminal, a plain line every 10 s otherwise (logs, CI), and a
 * closing "done in" line.
 */
import cliProgress from 'cli-progress';

const PLAIN_INTERVAL_MS = 10_000;

export interface ProgressSpec {
  /** what is being done: 'MEND training', 'downloading gpt2/model.safetensors' */
  label: string;
  /** amount at completion, or null when unknown */
  total: number | null;
  /** amount already done when resuming (default 0) */
  initial?: number;
  /** an amount as text (default: the number and `unit`) */
  format?: (n: number) => string;
  /** unit of the default format: 'iterations', 'tokens' */
  unit?: string;
}

/**
 * @example
 * const p = new ProgressLine(true, { label: 'layer statistics', total: 64000, unit: 'tokens' });
 * p.update(1280); ...; p.stop(true);
 */
export class ProgressLine {
  private readonly bar: cliProgress.SingleBar | null = null;
  private last = Date.now();
  private readonly t0 = Date.now();
  private readonly initial: number;
  private readonly fmt: (n: number) => string;

  constructor(
    private readonly enabled: boolean,
    private readonly spec: ProgressSpec,
  ) {
    this.initial = spec.initial ?? 0;
    this.fmt = spec.format ?? ((n) => `${Math.round(n)}${spec.unit ? ` ${spec.unit}` : ''}`);
    if (!enabled) return;
    const size = spec.total === null ? '?' : this.fmt(spec.total);
    if (process.stderr.isTTY) {
      this.bar = new cliProgress.SingleBar({
        format: `${spec.label} [{bar}] {percentage}% | {done} / {size} | ETA {eta_formatted} | {rate} {info}`,
        stream: process.stderr,
        hideCursor: true,
        etaBuffer: 50,
      });
      this.bar.start(spec.total ?? 0, this.initial, { done: this.fmt(this.initial), size, rate: '', info: '' });
    } else {
      const resumed = this.initial > 0 ? `, resuming at ${this.fmt(this.initial)}` : '';
      process.stderr.write(`lmedit: ${spec.label}: ${size}${resumed}\n`);
    }
  }

  /** Report the amount done so far; `info` is shown after the rate (e.g. a loss). */
  update(done: number, info = ''): void {
    if (!this.enabled) return;
    const rate = (done - this.initial) / Math.max((Date.now() - this.t0) / 1000, 1e-3);
    const rateText = `${this.fmt(rate)}/s`;
    if (this.bar) {
      this.bar.update(done, { done: this.fmt(done), rate: rateText, info });
      return;
    }
    if (Date.now() - this.last < PLAIN_INTERVAL_MS) return;
    this.last = Date.now();
    const { total } = this.spec;
    const pct = total ? ` (${((100 * done) / total).toFixed(0)}%)` : '';
    const eta = total !== null && rate > 0 ? `, ETA ${((total - done) / rate).toFixed(0)} s` : '';
    process.stderr.write(
      `lmedit: ${this.spec.label}: ${this.fmt(done)}${total !== null ? ` / ${this.fmt(total)}` : ''}${pct}, ${rateText}${eta}${info ? ` ${info}` : ''}\n`,
    );
  }

  /** Close the bar; on success without a terminal, say how long it took. */
  stop(ok = true): void {
    if (!this.enabled) return;
    if (this.bar) this.bar.stop();
    else if (ok) process.stderr.write(`lmedit: ${this.spec.label}: done in ${((Date.now() - this.t0) / 1000).toFixed(1)} s\n`);
  }
}
