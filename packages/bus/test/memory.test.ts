// The conformance suite on the in-process broker.
import { describe } from 'vitest';
import { conformanceSuite } from './support/conformance.js';
import { memoryHarness } from './support/memory-harness.js';

describe('memory transport', () => {
  conformanceSuite({ harness: memoryHarness });
});
