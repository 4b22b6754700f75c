"""The parser model's two inference paths: the fused Numba decoder `greedy_parse` against the thinc path
`model.predict((docs, moves, S, None))`, on EWT sentences with a random-initialised `nlpnb.TransitionBasedParser.v1`.

    .venv/bin/python benchmarks/bench_parser_model.py [--n-sents 2000] [--batch-size 1000] [--threads 1]
        [--system arc_eager|tags] [--extra-state-tokens] [--repeats 3]

Both paths run the same tok2vec (HashEmbedCNN width 96, depth 4) and the same model (hidden width 64, 2 maxout
pieces, upper layer with random weights so the parse isn't degenerate) over the first `--n-sents` sentences of EWT
train, batched `--batch-size` sentences at a time, with the arc-eager system (labels from the data) or, with
`--system tags` (or when nlpnb.parser.arc_eager is missing), a toy one-move-per-token tagging system. Printed: words per
second of each path (per batch the best of `--repeats` interleaved passes; tok2vec included), the ratio greedy / thinc, the time of tok2vec +
precomputation (`P = X @ W`, common to both) and the ratio of the two decoding loops without it, and JIT latency: the first call of each path in a fresh process (Numba's
on-disk cache warm, as after installation) and with the cache directory emptied (`NUMBA_CACHE_DIR` pointed at a new
folder: compilation included). No spaCy side: this compares nlpnb's own two paths (the parser component benchmark
compares with spaCy). Results go to benchmarks/results/bench_parser_model.json.
"""
import argparse, itertools, json, os, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "ud_en_ewt"
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")


def setup(n_sents: int, system: str, extra: bool):
    import numpy as np
    from thinc.api import fix_random_seed
    from nlpnb.ml.parser_model import build_tb_parser_model
    from nlpnb.ml.tok2vec import HashEmbedCNN
    from nlpnb.tokens.doc import Doc
    from nlpnb.training.converters import read_conllu
    from nlpnb.training.example import Example
    from nlpnb.vocab import Vocab
    vocab = Vocab()
    refs = list(itertools.islice(read_conllu(DATA / "en_ewt-ud-train.conllu", vocab), n_sents))
    docs = [Doc(vocab, d.words, [bool(t.whitespace_) for t in d]) for d in refs]
    if system == "arc_eager":
        try:
            from nlpnb.parser.arc_eager import ArcEager
            moves = ArcEager(vocab.strings, ArcEager.labels_from_examples([Example(p, r) for p, r in zip(docs, refs)]))
            state_type = "parser"
        except ImportError:
            system = "tags"
    if system == "tags":
        sys.path.insert(0, str(ROOT / "tests"))
        from test_parser_model import TagMoves
        moves, state_type = TagMoves(len({t.pos_ for d in refs for t in d})), "ner"
    fix_random_seed(0)
    tok2vec = HashEmbedCNN(width=96, depth=4, embed_size=2000, window_size=1, maxout_pieces=3, subword_features=True,
                           pretrained_vectors=None)
    model = build_tb_parser_model(tok2vec, state_type, extra_state_tokens=extra, hidden_width=64, maxout_pieces=2,
                                  nO=moves.n_moves)
    model.initialize(X=docs[:10])
    upper = model.get_ref("upper")
    upper.set_param("W", np.random.normal(0, 1, upper.get_param("W").shape).astype("f"))
    return docs, moves, model, system


def first_call(args) -> None:
    "In a fresh process: time the first greedy_parse and the first thinc predict on 20 sentences (JIT included)."
    docs, moves, model, _ = setup(20, args.system, args.extra_state_tokens)
    import numpy as np
    from nlpnb.ml.parser_model import _precompute, greedy_parse, state_scores, sum_features
    P, b, pad, uWT, ub = _precompute(model, docs)
    F = np.zeros((2, model.get_dim("nF")), np.int32)
    t0 = time.perf_counter(); state_scores(P, pad, b, F, uWT, ub, np.empty((2, len(ub)), P.dtype))
    t1 = time.perf_counter(); sum_features(P, pad, b, F, np.empty((2, *b.shape), P.dtype))
    t2 = time.perf_counter(); greedy_parse(model, docs, moves)
    t3 = time.perf_counter(); model.predict((docs, moves, moves.init_states(docs), None))
    t4 = time.perf_counter(); greedy_parse(model, docs, moves); t5 = time.perf_counter()
    print(json.dumps({"state_scores_first_s": t1 - t0, "sum_features_first_s": t2 - t1, "greedy_first_s": t3 - t2,
                      "thinc_first_s": t4 - t3, "greedy_second_s": t5 - t4}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-sents", type=int, default=2000)
    ap.add_argument("--batch-size", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--system", choices=["arc_eager", "tags"], default="arc_eager")
    ap.add_argument("--extra-state-tokens", action="store_true")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--first-call", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.first_call: return first_call(args)
    for var in THREAD_VARS: os.environ[var] = str(args.threads)
    child = [sys.executable, __file__, "--first-call", "--system", args.system] + (["--extra-state-tokens"] if args.extra_state_tokens else [])
    env = {**os.environ}
    run = lambda env: json.loads(subprocess.run(child, env=env, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1])
    with tempfile.TemporaryDirectory() as cache:
        cold = run({**env, "NUMBA_CACHE_DIR": cache})
    warm = run(env)
    warm = run(env)  # the second fresh process finds the cache written by the first

    import numpy as np
    from nlpnb.ml.parser_model import _precompute, greedy_parse
    docs, moves, model, system = setup(args.n_sents, args.system, args.extra_state_tokens)
    n_words = sum(len(d) for d in docs)
    batches = [docs[i:i + args.batch_size] for i in range(0, len(docs), args.batch_size)]

    fns = {"greedy": lambda b: greedy_parse(model, b, moves),
           "thinc": lambda b: model.predict((b, moves, moves.init_states(b), None)),
           "pre": lambda b: _precompute(model, b)}
    greedy_parse(model, batches[0][:5], moves)
    best = {(name, j): float("inf") for name in fns for j in range(len(batches))}
    for _ in range(args.repeats):   # interleaved, best of `repeats` per batch: robust to a busy machine
        for j, b in enumerate(batches):
            for name, fn in fns.items():
                t0 = time.perf_counter(); fn(b); best[name, j] = min(best[name, j], time.perf_counter() - t0)
    t_greedy, t_thinc, t_pre = (sum(best[name, j] for j in range(len(batches))) for name in fns)
    same = all(np.array_equal(greedy_parse(model, b, moves).heads, model.predict((b, moves, moves.init_states(b), None))[0].heads)
               and np.array_equal(greedy_parse(model, b, moves).labels, model.predict((b, moves, moves.init_states(b), None))[0].labels)
               for b in batches)
    out = {"system": system, "n_sents": len(docs), "n_words": n_words, "batch_size": args.batch_size,
           "threads": args.threads, "extra_state_tokens": args.extra_state_tokens,
           "greedy_wps": n_words / t_greedy, "thinc_wps": n_words / t_thinc, "ratio_greedy_over_thinc": t_thinc / t_greedy,
           "precompute_share_of_greedy": t_pre / t_greedy, "same_parses": same,
           "loop_ratio_greedy_over_thinc": (t_thinc - t_pre) / max(t_greedy - t_pre, 1e-9),
           "greedy_loop_s": t_greedy - t_pre, "thinc_loop_s": t_thinc - t_pre, "precompute_s": t_pre,
           "first_call_cold_cache": cold, "first_call_warm_cache": warm}
    print(f"{system} on {len(docs)} EWT train sentences ({n_words} words), batches of {args.batch_size}, {args.threads} thread(s)")
    print(f"  greedy_parse : {out['greedy_wps']:>10,.0f} words/s")
    print(f"  thinc predict: {out['thinc_wps']:>10,.0f} words/s")
    print(f"  ratio greedy/thinc: {out['ratio_greedy_over_thinc']:.2f}x   (tok2vec + P = {out['precompute_share_of_greedy']:.0%} of greedy time)")
    print(f"  decoding loop alone (minus tok2vec + P, {t_pre:.2f}s): greedy {t_greedy - t_pre:.2f}s, thinc {t_thinc - t_pre:.2f}s, "
          f"ratio {out['loop_ratio_greedy_over_thinc']:.2f}x")
    print(f"  same parses: {same}")
    for label, r in (("empty Numba cache", cold), ("warm Numba cache ", warm)):
        print(f"  first calls on 20 sentences, {label}: state_scores {r['state_scores_first_s']:.2f}s, sum_features "
              f"{r['sum_features_first_s']:.2f}s, then greedy_parse {r['greedy_first_s']:.2f}s (the system's kernels), "
              f"thinc predict {r['thinc_first_s']:.2f}s; second greedy_parse {r['greedy_second_s'] * 1000:.1f} ms")
    (ROOT / "benchmarks" / "results").mkdir(exist_ok=True)
    (ROOT / "benchmarks" / "results" / "bench_parser_model.json").write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
