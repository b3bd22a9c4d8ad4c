// The CPU fixture target behind the replay stand-in (bench/replay-stand-in.ts): the prompts' greedy
// continuations recorded once with the interpreter, then replayed as the target's next tokens.
import { recordGreedy, replayTarget } from '../../bench/replay-stand-in.ts';
import type { TargetModel } from '../../runtime/target/target-model.ts';
import { loadTarget } from '../../runtime/target/target-model.ts';
import { TARGET_DIR } from './target.ts';

export interface ReplayedTarget {
  readonly target: TargetModel;
  /** each prompt's greedy continuation of maxNew tokens */
  readonly greedy: number[][];
  /** restores the target's backend and closes the target */
  close(): void;
}

/** The fixture target on the CPU (max-model-len 128, one slot per prompt), replaying `prompts`' greedy tokens. */
export async function replayedCpuTarget(prompts: readonly (readonly number[])[], maxNew: number): Promise<ReplayedTarget> {
  const target = await loadTarget({ model: TARGET_DIR, device: 'cpu', maxModelLen: 128, maxNumSeqs: prompts.length });
  try {
    const greedy = await recordGreedy(target, prompts, maxNew);
    const restore = replayTarget(target, prompts, greedy);
    return { target, greedy, close() { restore(); target.close(); } };
  } catch (e) {
    target.close();
    throw e;
  }
}
