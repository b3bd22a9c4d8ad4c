// A caller process for workers.test.ts: loads a 2-rank speculator, prints the worker pids, then waits
// inside a proposal (rank 1 hangs at its first collective) until it is killed.
import { loadSpeculator } from '../../../runtime/speculator.ts';
import { fixtureBatch, fixtureDir } from '../../support/fixtures.ts';

const spec = await loadSpeculator({
  model: fixtureDir('lstm-tiny'), device: 'cpu', quiet: true, tensorParallel: 2, collectiveTimeoutMs: 60_000,
  tensorParallelFault: { rank: 1, atCollective: 0, action: 'hang' },
}) as Awaited<ReturnType<typeof loadSpeculator>> & { workerPids: number[] };
const { hidden, tokens } = fixtureBatch('lstm-tiny');
void spec.propose({ hidden, tokens }).catch(() => {});
process.stdout.write(`${JSON.stringify(spec.workerPids)}\n`);
setTimeout(() => process.exit(4), 30_000); // never outlive a test that forgot to kill this
