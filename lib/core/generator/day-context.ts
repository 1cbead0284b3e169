import type { Population } from './population';
import type { Rng } from './prng';

/** What generating one day's events needs to know. */
export interface DayContext {
  readonly rng: Rng;
  readonly population: Population;
  readonly dayStartMs: number;
  readonly weekend: boolean;
  /** 1 before drift; the drift amount factor from the drift day on. Applies to every amount. */
  readonly amountFactor: number;
}
