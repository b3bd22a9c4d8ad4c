#!/usr/bin/env bash
# The published package, used as a new user would: pack (prepack builds dist/), check what the tarball
# holds, install it into a fresh project in a temporary folder, then run a library script, the CLI's
# --help, a propose on a fixture, and the authoring path (arcticc new → random weights → compile with
# every IR stage dumped → propose --program → the generated node:test file).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fixture="$repo/tests/fixtures/speculators/lstm-tiny"
fail() { echo "package-check: $*" >&2; exit 1; }

cd "$repo"
npm pack --pack-destination "$tmp" --silent >/dev/null
tarball="$(ls "$tmp"/arcticc-*.tgz)"
listing="$(tar tzf "$tarball")"
grep -q '^package/dist/index.js$' <<<"$listing" || fail "dist/index.js is not in the tarball"
grep -q '^package/dist/dsl/index.d.ts$' <<<"$listing" || fail "dist/dsl/index.d.ts is not in the tarball"
if grep -E '^package/(tests|bench|examples)/|\.test\.ts$' <<<"$listing"; then fail "tests, fixtures, benches or examples are in the tarball"; fi
echo "packed $(basename "$tarball"): $(wc -l <<<"$listing") files, $(du -k "$tarball" | cut -f1) kB"

proj="$tmp/project"
mkdir -p "$proj"
cd "$proj"
printf '{ "name": "user-project", "private": true, "type": "module" }\n' > package.json
npm install --no-audit --no-fund --prefer-offline --loglevel=error "$tarball" >/dev/null

# a library script: import both entry points, propose on a fixture, compare with its reference
cat > lib.js <<JS
import { readFileSync } from 'node:fs';
import { loadSpeculator, SuffixDecodingCache, compileProgram } from 'arcticc';
import { defineProgram } from 'arcticc/dsl';
const { cases } = JSON.parse(readFileSync('$fixture/cases.json', 'utf8'));
const spec = await loadSpeculator({ model: '$fixture', device: 'cpu' });
const draft = await spec.propose({ hidden: Float32Array.from(cases[0].hidden), tokens: Int32Array.of(cases[0].token) });
spec.close();
if (draft.join() !== cases[0].expected.join()) throw new Error('draft ' + draft + ' != ' + cases[0].expected);
if (typeof SuffixDecodingCache !== 'function' || typeof compileProgram !== 'function' || typeof defineProgram !== 'function') throw new Error('missing exports');
console.log('library: draft', draft.join(' '));
JS
node lib.js

npx arcticc --help | grep -q '^usage: arcticc <command>' || fail "arcticc --help"
npx arcticc propose --help | grep -q '^usage: arcticc propose' || fail "arcticc propose --help"

node -e "
  const { cases } = JSON.parse(require('fs').readFileSync('$fixture/cases.json', 'utf8'));
  require('fs').writeFileSync('request.json', JSON.stringify({ hidden: cases.map((c) => c.hidden), tokens: cases.map((c) => c.token) }));
  require('fs').writeFileSync('expected.json', JSON.stringify(cases.map((c) => c.expected)));
"
npx arcticc propose --model "$fixture" --input - --device cpu --json < request.json > out.json
node -e "
  const got = JSON.parse(require('fs').readFileSync('out.json', 'utf8')).draft, want = JSON.parse(require('fs').readFileSync('expected.json', 'utf8'));
  if (JSON.stringify(got) !== JSON.stringify(want)) { console.error('propose differs from the reference'); process.exit(1); }
  console.log('cli propose: ' + got.length + ' drafts match the reference');
"

# the authoring path, in the user's project
npx arcticc new gru-drafter >/dev/null
grep -q "from 'arcticc/dsl'" gru-drafter.ts || fail "the scaffold does not import arcticc/dsl"
node gru-drafter.weights.ts gru-random >/dev/null
npx arcticc compile gru-drafter.ts --model gru-random --out build/gru --dump-after all 2> dumps.txt >/dev/null
for stage in 'Before any pass' 'After canonicalize' 'Scheduled kernels'; do grep -q "$stage" dumps.txt || fail "--dump-after all shows no '$stage'"; done
cp "$repo/examples/drafters/gru-drafter.ts" my-gru.ts
npx arcticc compile my-gru.ts --out build/my-gru >/dev/null
node -e "require('fs').writeFileSync('req64.json', JSON.stringify({ hidden: [Array.from({ length: 64 }, (_, i) => Math.sin(i))], tokens: [3] }))"
npx arcticc propose --program gru-drafter.ts --model gru-random --input req64.json --device cpu --json > gru-out.json
node -e "const d = JSON.parse(require('fs').readFileSync('gru-out.json', 'utf8')).draft; if (d.length !== 1 || d[0].length !== 3) process.exit(1); console.log('propose --program: draft', d[0].join(' '))"
node --test gru-drafter.test.ts > test-out.txt 2>&1 || { cat test-out.txt; fail "the scaffolded test fails"; }
echo "package-check: ok"
