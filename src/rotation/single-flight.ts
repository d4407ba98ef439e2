/**
 * Collapses concurrent calls for the same key into one: while a call for a key is in flight, later
 * callers get the same promise instead of starting another. Once it settles, the next call starts anew.
 * (Go's `singleflight`.)
 *
 * @example
 * ```ts
 * const flights = new SingleFlight<string>();
 * const [a, b] = await Promise.all([flights.run("T1", refresh), flights.run("T1", refresh)]); // one refresh
 * ```
 */
export class SingleFlight<T> {
  readonly #inFlight = new Map<string, Promise<T>>();

  /** Keys with a call in flight (for tests and metrics). */
  get size(): number {
    return this.#inFlight.size;
  }

  /** True when a call for `key` is in flight. */
  has(key: string): boolean {
    return this.#inFlight.has(key);
  }

  run(key: string, fn: () => Promise<T>): Promise<T> {
    const running = this.#inFlight.get(key);
    if (running !== undefined) return running;
    let p: Promise<T>;
    try {
      p = fn();
    } catch (e) {
      p = Promise.reject(e);
    }
    const flight = p.finally(() => {
      if (this.#inFlight.get(key) === flight) this.#inFlight.delete(key);
    });
    this.#inFlight.set(key, flight);
    return flight;
  }
}
