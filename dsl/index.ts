// The typed tensor DSL: speculators are written against this module only.
export { Tensor } from './tensor.ts';
export { defineProgram, ProgramBuilder } from './program.ts';
export type { Program } from './program.ts';
export type { DrafterFactory, DrafterOptions } from './drafter.ts';
export { concat, embedding, layerNorm, rmsNorm, RMS_EPS, scan, stack, unroll, where } from './functional.ts';
export type { NormOptions } from './functional.ts';
export { attention, kvWrite, rope } from './decoder.ts';
export { DslError } from './scope.ts';
export type { Broadcast, DimLike, DTypeError, ShapeError, ShapeT } from './types.ts';
export type { DType, FloatDType } from '../compiler/ir/dtype.ts';
