/**
 * Suites: many runs (live pairs or against traces), sharded, each with its
 * expectation.
 *
 * This file is the folder's public face for the top mod.ts; the folders
 * above import its files directly.
 *
 * @module
 */
export {
  type CaseResult,
  type Expectation,
  runSuite,
  shardOf,
  type SuiteCase,
  type SuiteRunOptions,
} from "./suite.ts";
