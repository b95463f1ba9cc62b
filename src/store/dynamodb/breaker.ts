/**
 * The circuit breaker in front of DynamoDB, as a pure state machine (the clock is injected, so its
 * states are tested without a server or real time).
 *
 * - closed: every request goes through.
 * - open: after a failure that makes DynamoDB unusable, requests are refused at once for a cool-down
 *   (2 s at first, doubling while probes keep failing, at most 30 s).
 * - half-open: the cool-down is over; exactly one request (the probe) goes through. Its success closes
 *   the breaker; its failure opens it again for a doubled cool-down. Requests admitted before the
 *   breaker opened and failing afterwards do not lengthen the cool-down.
 */
export type BreakerState = "closed" | "open" | "half-open";

/** What `admit` decided: go through, go through as the one probe, or refuse without trying. */
export type Admission = "pass" | "probe" | "refuse";

export interface BreakerOptions {
  now?: () => number;
  firstCoolDownMs?: number;
  maxCoolDownMs?: number;
}

export const FIRST_COOL_DOWN_MS = 2000;
export const MAX_COOL_DOWN_MS = 30_000;

export class CircuitBreaker {
  readonly #now: () => number;
  readonly #first: number;
  readonly #max: number;
  /** 0 while closed; else the current cool-down. */
  #coolDown = 0;
  #openUntil = 0;
  #probing = false;

  constructor(options: BreakerOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#first = options.firstCoolDownMs ?? FIRST_COOL_DOWN_MS;
    this.#max = options.maxCoolDownMs ?? MAX_COOL_DOWN_MS;
  }

  get state(): BreakerState {
    if (this.#coolDown === 0) return "closed";
    return this.#probing || this.#now() >= this.#openUntil ? "half-open" : "open";
  }

  /** The current cool-down in ms (0 while closed). */
  get coolDownMs(): number {
    return this.#coolDown;
  }

  /** When the breaker lets a probe through, epoch ms (0 while closed). */
  get openUntil(): number {
    return this.#coolDown === 0 ? 0 : this.#openUntil;
  }

  admit(): Admission {
    if (this.#coolDown === 0) return "pass";
    if (this.#probing || this.#now() < this.#openUntil) return "refuse";
    this.#probing = true;
    return "probe";
  }

  /** A request succeeded; true if that closed an open breaker (DynamoDB is back). */
  succeeded(): boolean {
    this.#probing = false;
    if (this.#coolDown === 0) return false;
    this.#coolDown = 0;
    return true;
  }

  /**
   * A request failed. `unusable`: the cause means DynamoDB cannot be used right now (it opens the
   * breaker, or, for a failed probe, doubles the cool-down); other causes only end a probe.
   */
  failed(probe: boolean, unusable: boolean): void {
    if (probe) this.#probing = false;
    if (!unusable) return;
    if (this.#coolDown === 0) this.#coolDown = this.#first;
    else if (probe) this.#coolDown = Math.min(this.#coolDown * 2, this.#max);
    else return; // admitted before the breaker opened: the cool-down stands
    this.#openUntil = this.#now() + this.#coolDown;
  }
}
