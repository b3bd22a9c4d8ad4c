// Run the arcticc CLI in-process and capture what it prints (stdin and a terminal's progress line faked).
import { main } from '../../bin/commands/main.ts';

export interface CliRun { code: number; out: string; err: string; progress: string[] }

export async function runCli(argv: string[], o: { stdin?: string; tty?: boolean } = {}): Promise<CliRun> {
  let out = '', err = '';
  const progress: string[] = [];
  const code = await main(argv, {
    out: (s) => { out += s + '\n'; },
    err: (s) => { err += s + '\n'; },
    readStdin: async () => o.stdin ?? '',
    ...(o.tty ? { progress: (line: string | null) => { progress.push(line ?? '<end>'); } } : {}),
  });
  return { code, out, err, progress };
}
