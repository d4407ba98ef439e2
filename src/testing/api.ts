/**
 * What the conformance suites need from a test runner. Vitest, Jest, `bun test` and `node:test` (with an
 * `expect` library) all provide it; the suites import no runner themselves.
 */

/** Assertions on one value, in the Jest / Vitest style the suites use. */
export interface Matchers {
  /** `Object.is` equality. */
  toBe(expected: unknown): unknown;
  /** Deep equality (ignoring `undefined` properties). */
  toEqual(expected: unknown): unknown;
  /** Deep equality that also compares `undefined` properties and array sparseness. */
  toStrictEqual(expected: unknown): unknown;
  /** The value is `undefined`. */
  toBeUndefined(): unknown;
  /** The value is not `undefined`. */
  toBeDefined(): unknown;
  /** The value is an instance of the class. */
  toBeInstanceOf(expected: unknown): unknown;
  /** An array holds the item, or a string the substring. */
  toContain(expected: unknown): unknown;
  /** `.length` is `expected`. */
  toHaveLength(expected: number): unknown;
  /** The object has the property (with that value, if given). */
  toHaveProperty(property: string, value?: unknown): unknown;
  /** A string matches the regular expression. */
  toMatch(expected: RegExp | string): unknown;
  /** A number is at least `expected`. */
  toBeGreaterThanOrEqual(expected: number): unknown;
  /** A function call (or a rejected promise, under `rejects`) throws. */
  toThrow(expected?: unknown): unknown;
  /** The same assertions, negated. */
  not: Omit<Matchers, "not" | "rejects" | "resolves">;
  /** The same assertions on what a promise rejects with (each returns a promise to await). */
  rejects: Omit<Matchers, "rejects" | "resolves">;
  /** The same assertions on what a promise resolves to (each returns a promise to await). */
  resolves: Omit<Matchers, "rejects" | "resolves">;
}

/** A Jest-style `expect`: Vitest's, Jest's, `bun:test`'s, or the `expect` package under `node:test`. */
export type Expect = (actual: unknown) => Matchers;

/** A test or hook body: no parameter (`bun test` and Jest read one as a `done` callback). */
export type TestBody = () => Promise<void> | void;

/**
 * The test functions the conformance suites declare their tests with, passed in by the caller so the suites
 * run under any runner.
 *
 * @example
 * ```ts
 * import { afterEach, beforeEach, describe, expect, it } from "vitest";
 * const test: TestFunctions = { describe, it, expect, beforeEach, afterEach };
 * ```
 */
export interface TestFunctions {
  /** Groups tests; `fn` declares them synchronously. */
  describe(name: string, fn: () => void): unknown;
  /** Declares one test; `timeoutMs` is passed as the third argument (Vitest, Jest and Bun read it). */
  it(name: string, fn: TestBody, timeoutMs?: number): unknown;
  /** Assertions (see {@link Expect}). */
  expect: Expect;
  /** Runs before each test of the enclosing `describe` (opens a fresh store). */
  beforeEach(fn: TestBody): unknown;
  /** Runs after each test of the enclosing `describe` (closes the store, removes what it created). */
  afterEach(fn: TestBody): unknown;
}
