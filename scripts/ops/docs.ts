import type { Output } from './generate.ts';

/** Generated operator docs (filled in by the docs increment). */
export function docOutputs(): Output[] {
  return [];
}
