"""Greedy against beam training of the parser, nlpnb beside spaCy 3.8, on EWT slices (an accuracy check, not a race).

    .venv/bin/python benchmarks/bench_beam_training.py [--spacy-python benchmarks/.venv/bin/python] [--n-train 2000]
        [--n-dev 0] [--epochs 3] [--width 4] [--probs 0,0.5] [--group 1] [--seed 0] [--only nlpnb|spacy]

The driver reads the first `--n-train` sentences of ../shared/data/ud_en_ewt/en_ewt-ud-train.conllu and the first
`--n-dev` of en_ewt-ud-dev.conllu (0: all 2,001) with nlpnb's CoNLL-U reader (words, spaces, heads, labels; `--group N`
joins N consecutive sentences into one Doc, as `convert -n N` does) and hands the same rows to one worker process per
library and `beam_update_prob` in `--probs` (nlpnb with this interpreter, spaCy with `--spacy-python`; one thread).
Each worker trains a blank English parser alone: its own HashEmbedCNN tok2vec (width 64, depth 2, embed_size 2000,
window 1, 3 maxout pieces, subword features), the parser model with hidden_width 64, 2 maxout pieces and the upper
layer; `update_with_oracle_cut_size` 100 (both defaults), `nlp.initialize`'s default Adam, batches of 32 Docs
shuffled with the same seed on both sides, dropout 0.1. `beam_update_prob 0` is the `parser` factory with
`beam_width 1` (greedy training); a positive one is nlpnb's `parser` with `beam_width --width` and that
`beam_update_prob`, and spaCy's `beam_parser` factory with the same two settings.

Printed per library and prob, after `--epochs` epochs: the CPU seconds of the `nlp.update` calls (process time), their
ratio to the same library's greedy training, and dev UAS / LAS decoded greedily (`beam_width` 1) and with a beam of
`--width`; then each library's LAS gain of beam training over greedy training (same decoding), and nlpnb / spaCy.
"""
import argparse, json, os, random, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EWT = ROOT.parent / "shared" / "data" / "ud_en_ewt"
TOK2VEC = {"width": 64, "depth": 2, "embed_size": 2000, "window_size": 1, "maxout_pieces": 3, "subword_features": True}

def read_rows(name: str, limit: int, group: int) -> list:
    "EWT sentences as [words, spaces, heads, deps] rows, `group` consecutive sentences a row (heads shifted)."
    sys.path.insert(0, str(ROOT))
    from nlpnb.training.converters import read_conllu
    from nlpnb.vocab import Vocab
    rows = []
    for i, doc in enumerate(read_conllu(EWT / f"en_ewt-ud-{name}.conllu", Vocab())):
        if limit and i >= limit: break
        rows.append([list(doc.words), [bool(t.whitespace_) for t in doc], [t.head.i for t in doc], [t.dep_ for t in doc]])
    out = []
    for k in range(0, len(rows), group):
        part, words, spaces, heads, deps = rows[k:k + group], [], [], [], []
        for w, s, h, d in part:
            heads += [x + len(words) for x in h]; words += w; spaces += s; deps += d
        out.append([words, spaces, heads, deps])
    return out

def build(lib: str, prob: float, width: int):
    "A blank English pipeline with one parser (greedy when `prob` is 0) and that parser."
    if lib == "spacy":
        import spacy
        nlp = spacy.blank("en")
        model = {"@architectures": "spacy.TransitionBasedParser.v2", "state_type": "parser", "extra_state_tokens": False,
                 "hidden_width": 64, "maxout_pieces": 2, "use_upper": True, "nO": None,
                 "tok2vec": {"@architectures": "spacy.HashEmbedCNN.v2", "pretrained_vectors": None, **TOK2VEC}}
        if prob > 0:
            return nlp, nlp.add_pipe("beam_parser", name="parser", config={"model": model, "beam_width": width,
                                                                             "beam_update_prob": prob})
        return nlp, nlp.add_pipe("parser", config={"model": model})
    import nlpnb
    nlp = nlpnb.blank("en")
    cfg = {"model": {"tok2vec": dict(TOK2VEC)}}
    if prob > 0: cfg.update(beam_width=width, beam_update_prob=prob)
    return nlp, nlp.add_pipe("parser", config=cfg)

def worker(lib: str, data_path: str, prob: float, width: int, epochs: int, seed: int) -> dict:
    "Train one parser on the rows in `data_path`; its training CPU seconds and dev scores."
    if lib == "spacy":
        from spacy.tokens import Doc
        from spacy.training import Example
        from thinc.api import fix_random_seed
    else:
        sys.path.insert(0, str(ROOT))
        from nlpnb.tokens.doc import Doc
        from nlpnb.training.example import Example
        from thinc.api import fix_random_seed
    data = json.loads(Path(data_path).read_text())
    fix_random_seed(seed); random.seed(seed)
    nlp, parser = build(lib, prob, width)
    def examples(rows):
        return [Example(Doc(nlp.vocab, words=w, spaces=s), Doc(nlp.vocab, words=w, spaces=s, heads=h, deps=d))
                for w, s, h, d in rows]
    train, dev = examples(data["train"]), examples(data["dev"])
    optimizer = nlp.initialize(lambda: train)
    rng, cpu = random.Random(seed), 0.0
    for _ in range(epochs):
        rng.shuffle(train)
        for i in range(0, len(train), 32):
            t0 = time.process_time()
            nlp.update(train[i:i + 32], sgd=optimizer, drop=0.1)
            cpu += time.process_time() - t0
    out = {"lib": lib, "prob": prob, "cpu": cpu}
    for name, w in (("greedy", 1), ("beam", width)):
        parser.cfg["beam_width"] = w
        scores = nlp.evaluate(dev)
        out[name] = [100 * scores["dep_uas"], 100 * scores["dep_las"]]
    return out

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--spacy-python", default=str(ROOT / "benchmarks" / ".venv" / "bin" / "python"))
    ap.add_argument("--n-train", type=int, default=2000)
    ap.add_argument("--n-dev", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--width", type=int, default=4)
    ap.add_argument("--probs", default="0,0.5")
    ap.add_argument("--group", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--only", choices=["nlpnb", "spacy"])
    ap.add_argument("--worker", nargs=3, metavar=("LIB", "DATA", "PROB"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        lib, path, prob = args.worker
        print("RESULT " + json.dumps(worker(lib, path, float(prob), args.width, args.epochs, args.seed)))
        return
    data = {"train": read_rows("train", args.n_train, args.group), "dev": read_rows("dev", args.n_dev, args.group)}
    print(f"EWT: {len(data['train'])} training Docs, {len(data['dev'])} dev Docs ({args.group} sentence(s) a Doc), "
          f"{args.epochs} epochs, beam width {args.width}", flush=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "NUMBA_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    libs = [args.only] if args.only else ["nlpnb", "spacy"]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.json"
        path.write_text(json.dumps(data))
        for lib in libs:
            python = sys.executable if lib == "nlpnb" else args.spacy_python
            for prob in args.probs.split(","):
                cmd = [python, __file__, "--worker", lib, str(path), prob, "--width", str(args.width),
                       "--epochs", str(args.epochs), "--seed", str(args.seed)]
                done = subprocess.run(cmd, env=env, capture_output=True, text=True)
                line = next((l for l in done.stdout.splitlines() if l.startswith("RESULT ")), None)
                if line is None: sys.exit(f"{lib} prob {prob} failed:\n{done.stderr[-3000:]}")
                r = json.loads(line[7:]); results.append(r)
                print(f"{lib:6} beam_update_prob {r['prob']:<4} train CPU {r['cpu']:7.1f}s   dev UAS/LAS greedy "
                      f"{r['greedy'][0]:.2f} / {r['greedy'][1]:.2f}   beam {args.width} {r['beam'][0]:.2f} / "
                      f"{r['beam'][1]:.2f}", flush=True)
    print("\n| library | beam_update_prob | train CPU s | x greedy's | UAS / LAS, greedy decoding | beam decoding |")
    print("|---|---|---|---|---|---|")
    base = {r["lib"]: r for r in results if r["prob"] == 0}
    for r in results:
        ratio = f"{r['cpu'] / base[r['lib']]['cpu']:.2f}" if r["lib"] in base else "-"
        print(f"| {r['lib']} | {r['prob']} | {r['cpu']:.1f} | {ratio} | {r['greedy'][0]:.2f} / {r['greedy'][1]:.2f} "
              f"| {r['beam'][0]:.2f} / {r['beam'][1]:.2f} |")
    print("\nLAS gain of beam training over greedy training (greedy decoding / beam decoding):")
    gains = {}
    for r in results:
        if r["prob"] == 0 or r["lib"] not in base: continue
        g = [r[k][1] - base[r["lib"]][k][1] for k in ("greedy", "beam")]
        gains[(r["lib"], r["prob"])] = g
        print(f"  {r['lib']:6} prob {r['prob']}: {g[0]:+.2f} / {g[1]:+.2f}")
    for (lib, prob), g in gains.items():
        if lib == "nlpnb" and ("spacy", prob) in gains:
            s = gains[("spacy", prob)]
            nl = next(r for r in results if r["lib"] == "nlpnb" and r["prob"] == prob)
            sp = next(r for r in results if r["lib"] == "spacy" and r["prob"] == prob)
            print(f"  nlpnb / spaCy at prob {prob}: beam-decoded LAS {nl['beam'][1]:.2f} / {sp['beam'][1]:.2f} "
                  f"(gain {g[1]:+.2f} against {s[1]:+.2f}); training CPU ratio {nl['cpu'] / sp['cpu']:.2f}")

if __name__ == "__main__":
    main()
