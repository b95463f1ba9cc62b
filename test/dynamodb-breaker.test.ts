/**
 * The circuit breaker in front of DynamoDB, under a fake clock: when requests go through, when they are
 * refused, and how the cool-down grows and ends. No server.
 */
import { describe, expect, it } from "vitest";
import { CircuitBreaker } from "../src/store/dynamodb/breaker.js";

function breakerAt(start = 1_000_000) {
  const clock = { now: start };
  const breaker = new CircuitBreaker({ now: () => clock.now, firstCoolDownMs: 2000, maxCoolDownMs: 30_000 });
  return { breaker, clock };
}

describe("the circuit breaker", () => {
  it("stays closed while requests succeed or fail for reasons that leave DynamoDB usable", () => {
    const { breaker } = breakerAt();
    expect(breaker.admit()).toBe("pass");
    expect(breaker.succeeded()).toBe(false);
    breaker.failed(false, false); // e.g. a validation error
    expect(breaker.state).toBe("closed");
    expect(breaker.admit()).toBe("pass");
  });

  it("opens on an outage and refuses every request until the cool-down is over", () => {
    const { breaker, clock } = breakerAt();
    breaker.failed(false, true);
    expect(breaker.state).toBe("open");
    expect(breaker.coolDownMs).toBe(2000);
    expect(breaker.admit()).toBe("refuse");
    clock.now += 1999;
    expect(breaker.admit()).toBe("refuse");
    clock.now += 1;
    expect(breaker.state).toBe("half-open");
  });

  it("after the cool-down lets exactly one probe through; its success closes the breaker", () => {
    const { breaker, clock } = breakerAt();
    breaker.failed(false, true);
    clock.now += 2000;
    expect(breaker.admit()).toBe("probe");
    expect(breaker.admit()).toBe("refuse"); // the probe is under way
    expect(breaker.state).toBe("half-open");
    expect(breaker.succeeded()).toBe(true); // recovered
    expect(breaker.state).toBe("closed");
    expect(breaker.admit()).toBe("pass");
  });

  it("doubles the cool-down at each failed probe, up to 30 s", () => {
    const { breaker, clock } = breakerAt();
    breaker.failed(false, true);
    const coolDowns: number[] = [breaker.coolDownMs];
    for (let i = 0; i < 6; i++) {
      clock.now += breaker.coolDownMs;
      expect(breaker.admit()).toBe("probe");
      breaker.failed(true, true);
      expect(breaker.state).toBe("open");
      coolDowns.push(breaker.coolDownMs);
    }
    expect(coolDowns).toEqual([2000, 4000, 8000, 16000, 30000, 30000, 30000]);
    expect(breaker.openUntil).toBe(clock.now + 30_000);
  });

  it("a request admitted before the breaker opened and failing later does not lengthen the cool-down", () => {
    const { breaker, clock } = breakerAt();
    expect(breaker.admit()).toBe("pass"); // in flight
    breaker.failed(false, true); // another request opens the breaker
    const until = breaker.openUntil;
    clock.now += 500;
    breaker.failed(false, true); // the earlier request times out now
    expect(breaker.coolDownMs).toBe(2000);
    expect(breaker.openUntil).toBe(until);
  });

  it("a probe failing for a reason that leaves DynamoDB usable ends the probe without a longer cool-down", () => {
    const { breaker, clock } = breakerAt();
    breaker.failed(false, true);
    clock.now += 2000;
    expect(breaker.admit()).toBe("probe");
    breaker.failed(true, false);
    expect(breaker.coolDownMs).toBe(2000);
    expect(breaker.admit()).toBe("probe"); // the next request may probe
  });
});
