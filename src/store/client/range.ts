// Owns range arithmetic the client needs on region descriptors (overlap of two [start, end) ranges where an
// empty end means +infinity).
import type { RegionDescriptor } from '../region/descriptor.js';
export { compareBytes } from '../keys.js';
import { compareBytes } from '../keys.js';

/** Whether two regions' ranges overlap. */
export function containsKeyRange(a: RegionDescriptor, b: RegionDescriptor): boolean {
  const aEndsBeforeB = a.end.length > 0 && compareBytes(a.end, b.start) <= 0;
  const bEndsBeforeA = b.end.length > 0 && compareBytes(b.end, a.start) <= 0;
  return !aEndsBeforeB && !bEndsBeforeA;
}
