"""Throughput of the arc-eager kernels on EWT dev: states x moves per second for valid / apply / costs / features,
replaying the oracle's moves over all docs as one batch, plus the first-call (JIT or cache load) latency.

    python benchmarks/bench_arc_eager.py [--n-sents 1] [--repeat 3]
"""
import argparse, time
from pathlib import Path
import numpy as np

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-sents", type=int, default=1, help="sentences per doc")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    t0 = time.perf_counter()
    from nlpnb.parser.arc_eager import ArcEager
    from nlpnb.parser.state import take
    S_ = ArcEager(None, ["x"]); tiny = S_.init_states([]); S_.valid(tiny); S_.apply(tiny, np.zeros(0, np.int32))
    S_.features(tiny, 13); S_.costs(tiny, S_.gold([], tiny)); S_.oracle_actions(tiny, S_.gold([], tiny))
    print(f"import + first calls (compile or cache load): {time.perf_counter() - t0:.2f}s")
    from nlpnb.vocab import Vocab
    from nlpnb.tokens.doc import Doc
    from nlpnb.training.example import Example
    from nlpnb.training.converters import read_conllu
    path = Path(__file__).resolve().parents[2] / "shared" / "data" / "ud_en_ewt" / "en_ewt-ud-dev.conllu"
    vocab = Vocab()
    refs = list(read_conllu(path, vocab, n_sents=args.n_sents))
    egs = [Example(Doc(vocab, words=[t.text for t in d], spaces=[bool(t.whitespace_) for t in d]), d) for d in refs]
    moves = ArcEager(vocab.strings, ArcEager.labels_from_examples(egs))
    S0 = moves.init_states([eg.predicted for eg in egs])
    t = time.perf_counter(); G = moves.gold(egs, S0); t_gold = time.perf_counter() - t
    t = time.perf_counter(); acts = moves.oracle_actions(S0, G); t_oracle = time.perf_counter() - t
    n_steps = max(len(a) for a in acts)
    steps = [np.array([a[k] if k < len(a) else -1 for a in acts], np.int32) for k in range(n_steps)]
    B, n_moves = len(S0.offset), moves.n_moves
    valid, costs, feats = np.zeros((B, n_moves), bool), np.zeros((B, n_moves), np.float32), np.zeros((B, 13), np.int32)
    times = {k: [] for k in ("valid", "costs", "features", "apply")}
    for _ in range(args.repeat):
        S = take(S0, range(B))
        tt = dict.fromkeys(times, 0.0)
        for a in steps:
            t = time.perf_counter(); moves.valid(S, valid); tt["valid"] += time.perf_counter() - t
            t = time.perf_counter(); moves.costs(S, G, costs); tt["costs"] += time.perf_counter() - t
            t = time.perf_counter(); moves.features(S, 13, feats); tt["features"] += time.perf_counter() - t
            t = time.perf_counter(); moves.apply(S, a); tt["apply"] += time.perf_counter() - t
        for k in times: times[k].append(tt[k])
    total = B * n_steps          # state-steps visited (final states included: the kernels visit every state)
    real = sum(len(a) for a in acts)
    print(f"EWT dev: {B} docs ({args.n_sents} sents each), {int(S0.length.sum())} tokens, {moves.n_labels} labels, {n_moves} moves, {n_steps} steps")
    print(f"gold(): {t_gold:.2f}s  oracle_actions: {t_oracle:.3f}s ({real / t_oracle / 1e6:.2f}M moves/s)")
    for k, v in times.items():
        best = min(v)
        print(f"{k:9s} {best * 1e3:8.1f} ms  {total / best / 1e6:7.2f}M state-steps/s  "
              f"({real / best / 1e6:.2f}M real moves/s; x{n_moves} moves per state for valid/costs)")

if __name__ == "__main__":
    main()
