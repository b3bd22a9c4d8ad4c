#!/usr/bin/env bash
# Builds the peer replay driver against a copy of ArcticInference's suffix tree source (suffix_tree.h,
# suffix_tree.cc, int32_map.h from its csrc/suffix_decoding at the commit named in bench/NOTES.md), which
# is not part of this repo: put it in bench/out/peer-src/ (ignored by git) or pass its folder.
#   bash bench/suffix-peer/build.sh [PEER_SRC_DIR]   ->  bench/out/suffix-peer-replay
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=${1:-$here/../out/peer-src}
out=$here/../out
mkdir -p "$out"
g++ -O3 -DNDEBUG -std=c++20 -I"$src" "$here/replay.cc" "$src/suffix_tree.cc" -o "$out/suffix-peer-replay"
echo "$out/suffix-peer-replay"
