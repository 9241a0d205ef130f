/**
 * File-ownership claims: the glob dialect of `owns`, exact glob intersection, and the claim
 * book that an OwnershipActor keeps for one scope.
 */
export { ClaimBook, type Claim, type ClaimBookState, type ClaimDecision } from './claim-book.ts';
export { claimsConflict, exampleCommonPath, globsIntersect, validateGlob } from './glob-intersection.ts';
export { GLOB_OPTIONS, globMatcher } from './glob-match.ts';
export { MAX_ALTERNATIVES, MAX_GLOB_LENGTH, type GlobProblem } from './glob-syntax.ts';
