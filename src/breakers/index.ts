// Circuit breakers around what Omoi calls outside itself: one `Breakers` per node.
export { Breakers, CircuitOpenError, BREAKER_NAMES, type BreakerChange, type BreakerName, type BreakerOptions, type BreakerState } from './breakers.ts';
export { FAST_FAILURE_MS, programOf, throughBreaker } from './fast-failure.ts';
