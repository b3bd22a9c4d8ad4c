// A scripted stand-in for a CUDA rank worker (runtime/tp/worker.ts with device 'cuda'), speaking the same
// protocol without a GPU: rank 0 sends an NCCL unique id, every rank "joins" when the supervisor relays
// it, proposals answer draft[b, j] = tokens[b] + j. $FAKE_TP_LOG names a file every rank appends its
// events to; $FAKE_TP_MODE scripts faults: die1 (rank 1 exits with code 3 when a proposal arrives, the
// others wait as if blocked in a collective), stubborn1 (like die1, and rank 2 ignores abort).
import { appendFileSync } from 'node:fs';
import type { FromWorker, ToWorker } from '../../../runtime/tp/protocol.ts';

const log = (s: string): void => { if (process.env.FAKE_TP_LOG) appendFileSync(process.env.FAKE_TP_LOG, `${s}\n`); };
const mode = process.env.FAKE_TP_MODE ?? 'ok';
const send = (m: FromWorker): void => { process.send!(m); };
let rank = -1;
let joined = '';
process.on('disconnect', () => process.exit(1));
process.on('message', (m: ToWorker) => {
  if (m.type === 'init') {
    rank = m.rank;
    log(`${rank} init device=${m.device} ordinal=${m.ordinal} maxBatch=${m.maxBatch} nvls=${process.env.NCCL_NVLS_ENABLE}`);
    if (rank === 0) send({ type: 'nccl-unique-id', rank: 0, hex: 'ab'.repeat(128) });
  } else if (m.type === 'nccl-id') {
    joined = m.hex;
    log(`${rank} joined ${m.hex.slice(0, 8)} (${m.hex.length})`);
    send({ type: 'ready', rank, hiddenSize: 4, vocabSize: 100, nPredict: 3, collectives: 3, description: `Fake GPU ${rank}` });
  } else if (m.type === 'propose') {
    if (!joined) throw new Error('propose before join');
    if ((mode === 'die1' || mode === 'stubborn1') && rank === 1) process.exit(3);
    if (mode === 'die1' || mode === 'stubborn1') return; // blocked in a collective that never completes
    const draft = new Int32Array(m.batch * 3);
    for (let b = 0; b < m.batch; b++) for (let j = 0; j < 3; j++) draft[b * 3 + j] = m.tokens[b] + j;
    send({ type: 'done', rank, id: m.id, draft });
  } else if (m.type === 'abort') {
    if (mode === 'stubborn1' && rank === 2) { log(`${rank} ignores abort`); return; }
    log(`${rank} aborted`);
    process.exit(1);
  }
});
