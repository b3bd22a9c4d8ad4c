// Side-by-side driver for ArcticInference's C++ SuffixTree (the peer in bench/suffix.ts). It replays an op
// stream written by bench/suffix.ts through the peer's trees the way arctic_inference/suffix_decoding/cache.py
// drives them (a local tree per active request over prompt + output, one global tree of responses, FIFO
// eviction past max_cached_requests, local draft on a score tie), but from C++, so the peer pays no Python
// overhead. It writes every draft (tokens and score bits) for the exact comparison and prints timings.
// The peer's source is not in this repo: build.sh compiles this file against a copy of it (see NOTES.md).
//
// Op stream (int32 little endian): header [magic 0x53554658, depth, maxCached, maxSpecTokens, factor bits,
// offset bits, minProb bits], then ops: 1 START req n tok*n | 2 ADD req n tok*n | 3 STOP req |
// 4 SPEC req n (context = last n tokens of the request's prompt + output) | 0 END.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <memory>
#include <algorithm>
#include <string>
#include <unordered_map>
#include <vector>
#include "suffix_tree.h"

static long rss_kb() {
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line)) if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
    return -1;
}

static inline double now_ns() {
    return (double)std::chrono::duration_cast<std::chrono::nanoseconds>(
        std::chrono::steady_clock::now().time_since_epoch()).count();
}

int main(int argc, char** argv) {
    if (argc < 3) { std::fprintf(stderr, "usage: replay OPS DRAFTS_OUT\n"); return 2; }
    std::vector<int32_t> ops;
    {
        FILE* f = std::fopen(argv[1], "rb");
        if (!f) { std::perror(argv[1]); return 2; }
        std::fseek(f, 0, SEEK_END); long sz = std::ftell(f); std::fseek(f, 0, SEEK_SET);
        ops.resize(sz / 4);
        if (std::fread(ops.data(), 4, ops.size(), f) != ops.size()) { std::perror("read"); return 2; }
        std::fclose(f);
    }
    if (ops[0] != 0x53554658) { std::fprintf(stderr, "bad magic\n"); return 2; }
    int depth = ops[1], maxCached = ops[2], maxSpec = ops[3];
    float factor, offset, minProb;
    std::memcpy(&factor, &ops[4], 4); std::memcpy(&offset, &ops[5], 4); std::memcpy(&minProb, &ops[6], 4);
    std::vector<int32_t> out;
    out.reserve(1 << 20);
    long rss0 = rss_kb();

    SuffixTree global(depth);
    std::unordered_map<int, std::unique_ptr<SuffixTree>> local;
    std::unordered_map<int, std::vector<int32_t>> seq;  // prompt + output per active request
    std::unordered_map<int, int> seqOfReq;
    std::deque<int> fifo;  // cached requests, oldest first
    int nextSeq = 0;
    double updateNs = 0, evictNs = 0, specTotal = 0;
    long updateTokens = 0, evictTokens = 0, globalTokens = 0;
    std::unordered_map<int, long> respLen;
    std::vector<double> spec;
    size_t p = 7;
    for (;;) {
        int op = ops[p++];
        if (op == 0) break;
        int req = ops[p++];
        if (op == 1) {
            int n = ops[p++];
            std::span<const int32_t> toks(&ops[p], n); p += n;
            double t0 = now_ns();
            auto tree = std::make_unique<SuffixTree>(depth);
            tree->extend(0, toks);
            local[req] = std::move(tree);
            if (maxCached != 0) {
                seqOfReq[req] = nextSeq++;
                fifo.push_back(req);
                while (maxCached > 0 && (int)fifo.size() > maxCached) {
                    int old = fifo.front(); fifo.pop_front();
                    double e0 = now_ns();
                    global.remove(seqOfReq[old]);
                    evictNs += now_ns() - e0;
                    evictTokens += respLen[old]; globalTokens -= respLen[old];
                    seqOfReq.erase(old); respLen.erase(old);
                }
            }
            updateNs += now_ns() - t0; updateTokens += n;
            seq[req].assign(toks.begin(), toks.end());
        } else if (op == 2) {
            int n = ops[p++];
            std::span<const int32_t> toks(&ops[p], n); p += n;
            double t0 = now_ns();
            local[req]->extend(0, toks);
            auto it = seqOfReq.find(req);
            if (it != seqOfReq.end()) global.extend(it->second, toks);
            updateNs += now_ns() - t0; updateTokens += n;
            respLen[req] += n; globalTokens += n;
            auto& s = seq[req]; s.insert(s.end(), toks.begin(), toks.end());
        } else if (op == 3) {
            double t0 = now_ns();
            local.erase(req);
            updateNs += now_ns() - t0;
            seq.erase(req);
        } else if (op == 4) {
            int n = ops[p++];
            auto& s = seq[req];
            std::span<const int32_t> ctx(s.data() + s.size() - n, n);
            double t0 = now_ns();
            // cache.py: trim to the last max_tree_depth tokens, speculate on both trees, local wins a tie.
            std::span<const int32_t> c = ctx.size() > (size_t)depth ? ctx.last(depth) : ctx;
            Draft mine = local[req]->speculate(c, maxSpec, factor, offset, minProb, false);
            Draft best;
            if (maxCached != 0) {
                Draft theirs = global.speculate(c, maxSpec, factor, offset, minProb, false);
                best = mine.score >= theirs.score ? std::move(mine) : std::move(theirs);
            } else best = std::move(mine);
            double dt = now_ns() - t0;
            spec.push_back(dt); specTotal += dt;
            int32_t bits; std::memcpy(&bits, &best.score, 4);
            out.push_back((int32_t)best.token_ids.size()); out.push_back(bits); out.push_back(best.match_len);
            out.insert(out.end(), best.token_ids.begin(), best.token_ids.end());
        } else { std::fprintf(stderr, "bad op %d at %zu\n", op, p); return 2; }
    }
    long rss1 = rss_kb();
    FILE* f = std::fopen(argv[2], "wb");
    std::fwrite(out.data(), 4, out.size(), f);
    std::fclose(f);
    std::vector<double> s = spec;
    std::sort(s.begin(), s.end());
    auto q = [&](double x) { return s.empty() ? 0.0 : s[std::min(s.size() - 1, (size_t)(x * s.size()))] / 1e3; };
    std::printf("{\"updateUsPerToken\":%.4f,\"updateTokens\":%ld,\"evictUsPerToken\":%.4f,\"evictTokens\":%ld,"
                "\"speculateUs\":{\"median\":%.4f,\"p90\":%.4f,\"p99\":%.4f,\"mean\":%.4f,\"calls\":%zu},"
                "\"rssGrowthBytes\":%ld,\"storedTokens\":%ld,\"bytesPerStoredToken\":%.2f}\n",
                updateNs / 1e3 / updateTokens, updateTokens, evictTokens ? evictNs / 1e3 / evictTokens : 0.0, evictTokens,
                q(0.5), q(0.9), q(0.99), s.empty() ? 0.0 : specTotal / 1e3 / s.size(), s.size(),
                (rss1 - rss0) * 1024, globalTokens, globalTokens ? (rss1 - rss0) * 1024.0 / globalTokens : 0.0);
    return 0;
}
