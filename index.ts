// arcticc: the library entry point.
export { loadSpeculator } from './runtime/speculator.ts';
export type { LoadSpeculatorOptions, Speculator } from './runtime/speculator.ts';
export type { ClampedToken, ProposeRequest } from './runtime/validate-inputs.ts';
export type { DeviceKind } from './runtime/backend.ts';
export type { DrafterFactory, DrafterOptions, Program } from './dsl/index.ts';
export { writeRandomCheckpoint } from './runtime/random-checkpoint.ts';
export type { RandomCheckpoint, RandomCheckpointOptions } from './runtime/random-checkpoint.ts';
export { drafterOptionsFromDir, drafterOptionsFromJson } from './runtime/drafter-options.ts';
export type { ResolvedDrafterOptions } from './runtime/drafter-options.ts';
export { loadCheckpoint, inspectCheckpoint, parseSpeculatorConfig, CheckpointError } from './runtime/checkpoint/index.ts';
export type { SpeculatorConfig, LoadedCheckpoint, CheckpointDescription } from './runtime/checkpoint/index.ts';
export { programFor } from './runtime/speculator-program.ts';
export { quantizeFp8, dequantizeFp8 } from './runtime/quantize-fp8.ts';
export { quantizeGraph, QUANTIZE_MODES } from './runtime/quantize-program.ts';
export type { QuantizeMode } from './runtime/quantize-program.ts';
export { lstmSpeculator } from './speculators/lstm.ts';
export { mlpSpeculator } from './speculators/mlp.ts';
export { interpret, interpretRanks } from './compiler/ir/interp.ts';
export { cutAtCollectives, paddedVocab, shardVocabParallel, shardWeights, stageAtCollectives } from './compiler/passes/tensor-parallel.ts';
export type { RankProgram, RankStage, VocabShard } from './compiler/passes/tensor-parallel.ts';
export { TensorParallelError } from './runtime/tp/supervisor.ts';
export { loadNccl, NcclCommunicator, NcclError, NcclUnavailableError } from './runtime/nccl/nccl.ts';
export { printGraph } from './compiler/ir/print.ts';
export type { Graph } from './compiler/ir/graph.ts';
export type { HostTensor } from './compiler/ir/tensor-data.ts';
export * as dsl from './dsl/index.ts';
export {
  SuffixDecodingCache, SuffixTree, NgramProposer, SuffixProposer, ModelProposer, HybridProposer,
  SpeculativeDecoder, AcceptanceMetrics, verifyGreedy, verifySampling, Xoshiro128,
  parseSpeculativeConfig, createProposer, DecodingError,
} from './runtime/decoding/index.ts';
export type {
  DraftModel, TargetModel, Proposer, Draft, SuffixDraft, SpeculateOptions, SpeculativeConfig, GenerateResult,
} from './runtime/decoding/index.ts';
export { compileProgram } from './compiler/compile.ts';
export { writeArtifact, readArtifact } from './compiler/artifact.ts';
export type { ExecutionPlan } from './compiler/codegen/plan.ts';
// target models, the engine, tokenizers (docs/targets.md)
export { loadTarget } from './runtime/target/target-model.ts';
export type { LoadTargetOptions, TargetModel as Target, TargetSequence, ForwardItem, ForwardResult } from './runtime/target/target-model.ts';
export { TargetError } from './runtime/target/kv-slots.ts';
export { TARGET_QUANTIZE_MODES } from './runtime/target/quantize-target.ts';
export type { TargetQuantizeMode } from './runtime/target/quantize-target.ts';
export { loadEngine } from './runtime/engine/load-engine.ts';
export type { Engine, LoadEngineOptions } from './runtime/engine/load-engine.ts';
export { SpeculativeEngine } from './runtime/engine/engine.ts';
export type { EngineGenerateOptions, EngineMetrics, EngineOutput } from './runtime/engine/engine.ts';
export { generate } from './runtime/engine/generate.ts';
export { parseEngineSpeculativeConfig, SpeculativeConfigError } from './runtime/engine/speculative-config.ts';
export type { EngineSpeculativeConfig } from './runtime/engine/speculative-config.ts';
export { llamaProgram } from './models/llama.ts';
export type { LlamaShape } from './models/llama.ts';
export { parseLlamaConfig } from './runtime/checkpoint/llama-config.ts';
export type { LlamaConfig } from './runtime/checkpoint/llama-config.ts';
export { Tokenizer, StreamingDetokenizer, TokenizerError } from './runtime/tokenizer/index.ts';
