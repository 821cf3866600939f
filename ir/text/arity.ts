/**
 * Operand and result counts an op accepts, derived from its OperandSpecs: trailing optional operands
 * may be left out, a variadic one takes any number (at least one unless it is optional). Shared by the
 * parser and the verifier so both count the same way.
 */
import type { OpDef, OperandSpec } from '../optable.js';

export interface Arity {
  inMin: number;
  inMax: number;
  outMin: number;
  outMax: number;
}

function range(specs: readonly OperandSpec[]): [number, number] {
  let min = 0;
  specs.forEach((s, i) => {
    if (!s.optional) min = i + 1;
  });
  const max = specs.some((s) => s.variadic) ? Infinity : specs.length;
  return [min, max];
}

/** Accepted operand and result counts of `def`. */
export function arity(def: OpDef): Arity {
  const [inMin, inMax] = range(def.inputs);
  const [outMin, outMax] = range(def.outputs);
  return { inMin, inMax, outMin, outMax };
}
