// A process-wide count of host↔device synchronizations: every wait of the host for the device (a stream
// synchronize, and so every blocking upload/download and every plan run). The engine reads it around each
// step to report syncs per step (issue 9: at most one per step). The CPU backends count each interpreter call
// whose outputs the host reads (a target pass, a draft-model pass): what a readback would be on a device.
let count = 0;

/** one more wait of the host for the device (or its CPU equivalent) */
export function noteHostSync(): void { count++; }

/** syncs so far in this process */
export function hostSyncs(): number { return count; }
