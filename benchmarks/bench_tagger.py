"""Tagger training and inference, nlpnb against spaCy: full UD English EWT train, tag accuracy on EWT dev.

    .venv/bin/python benchmarks/bench_tagger.py [--spacy-python benchmarks/.venv/bin/python] [--epochs 5]
        [--batch-size 32] [--threads 1] [--n-train N]

A long run (several minutes; not a test). Both sides train the same network on the same sentences in the same
order: a `tagger` whose model is a softmax over a HashEmbedCNN tok2vec of width 96 and depth 4 (NORM, PREFIX, SUFFIX
and SHAPE hash tables of 2000/1000/1000/1000 rows, four residual window-1 Maxout blocks of 3 pieces), i.e.
`nlpnb.Tagger.v1` + `nlpnb.HashEmbedCNN.v1` and `spacy.Tagger.v2` + `spacy.HashEmbedCNN.v2`, the factories' own
default shape. Training is `nlp.update` over batches of `--batch-size` sentences with dropout 0.1 and the same Adam
(learn rate 0.001, L2 weight decay 0.01, gradient clipping 1.0) on both sides; the sentences are shuffled with the same
seed each epoch. The data (words, spaces, XPOS tags) are read once, with nlpnb's CoNLL-U reader, and handed to both
sides as JSON, so both see identical tokens.

Each side runs in its own process (nlpnb with this interpreter, spaCy with `--spacy-python`; nlpnb never imports
spaCy), with OMP/MKL/OPENBLAS/NUMBA threads set to `--threads`. Printed, with the ratio nlpnb / spaCy: the time of
`nlp.initialize` and of the first update (where Numba JIT warm-up shows), training words per second per epoch and
overall (`nlp.update` only; evaluation excluded), `tag_acc` on dev after each epoch (each library's own `nlp.evaluate`),
inference words per second (`nlp.pipe` over fresh dev Docs, best of 3 passes), and peak resident memory. The numbers
are also written to benchmarks/results/bench_tagger.json.
"""
import argparse, json, os, random, resource, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "ud_en_ewt"
SHAPE = dict(width=96, depth=4, embed_size=2000, window_size=1, maxout_pieces=3, subword_features=True)
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")

def model_block(lib: str) -> dict:
    prefix, tagger_v, cnn_v = ("nlpnb", 1, 1) if lib == "nlpnb" else ("spacy", 2, 2)
    return {"@architectures": f"{prefix}.Tagger.v{tagger_v}", "normalize": False,
            "tok2vec": {"@architectures": f"{prefix}.HashEmbedCNN.v{cnn_v}", "pretrained_vectors": None, **SHAPE}}

def run_side(lib: str, data_path: str, out_path: str, epochs: int, batch_size: int) -> None:
    "One library's run, in this process: build, initialize, train, evaluate, time."
    if lib == "nlpnb":
        import nlpnb, nlpnb.pipeline.tagger  # noqa: F401  (registers the factory)
        from nlpnb.tokens.doc import Doc
        from nlpnb.training.example import Example
        version = nlpnb.__version__
        make_doc = lambda nlp, w, s, tags=None: Doc(nlp.vocab, w, s, tags=tags)
    else:
        import spacy
        from spacy.tokens import Doc
        from spacy.training import Example
        version = spacy.__version__
        make_doc = lambda nlp, w, s, tags=None: Doc(nlp.vocab, words=w, spaces=s, tags=tags)
    import thinc
    from thinc.api import Adam, fix_random_seed
    data = json.loads(Path(data_path).read_text())
    fix_random_seed(0)
    nlp = (nlpnb if lib == "nlpnb" else spacy).blank("en")
    nlp.add_pipe("tagger", config={"model": model_block(lib)})
    def examples(rows): return [Example(make_doc(nlp, w, s), make_doc(nlp, w, s, t)) for w, s, t in rows]
    train = examples(data["train"])
    n_train, n_dev = sum(len(w) for w, _, _ in data["train"]), sum(len(w) for w, _, _ in data["dev"])
    opt = Adam(learn_rate=0.001, beta1=0.9, beta2=0.999, eps=1e-8, L2=0.01, L2_is_weight_decay=True, grad_clip=1.0,
               use_averages=False)
    t0 = time.perf_counter()
    nlp.initialize(lambda: train, sgd=opt)
    out = {"lib": lib, "version": f"{version} (thinc {thinc.__version__})", "init_s": time.perf_counter() - t0,
           "n_train_words": n_train, "n_dev_words": n_dev, "epochs": []}
    order = list(range(len(train)))
    for epoch in range(epochs):
        random.Random(epoch).shuffle(order)
        seconds, losses = 0.0, {}
        for i in range(0, len(order), batch_size):
            batch = [train[j] for j in order[i:i + batch_size]]
            t0 = time.perf_counter()
            nlp.update(batch, drop=0.1, sgd=opt, losses=losses)
            dt = time.perf_counter() - t0
            if epoch == 0 and i == 0: out["first_update_s"] = dt
            seconds += dt
        scores = nlp.evaluate(examples(data["dev"]))  # fresh, unannotated predicted Docs each time
        out["epochs"].append({"train_s": seconds, "train_wps": n_train / seconds, "loss": losses["tagger"],
                              "tag_acc": scores["tag_acc"]})
        print(f"  {lib} epoch {epoch + 1}: {n_train / seconds:,.0f} words/s, tag_acc {scores['tag_acc']:.4f}", flush=True)
    runs = []
    for _ in range(3):
        docs = [make_doc(nlp, w, s) for w, s, _ in data["dev"]]
        t0 = time.perf_counter()
        for _ in nlp.pipe(docs, batch_size=256): pass
        runs.append(time.perf_counter() - t0)
    out.update(infer_first_s=runs[0], infer_wps=n_dev / min(runs), tag_acc=out["epochs"][-1]["tag_acc"],
               train_wps=n_train * epochs / sum(e["train_s"] for e in out["epochs"]),
               peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    Path(out_path).write_text(json.dumps(out))

def read_data(n_train: int) -> dict:
    sys.path.insert(0, str(ROOT))
    from nlpnb.training.converters import read_conllu
    from nlpnb.vocab import Vocab
    def rows(name, limit=None):
        out = []
        for doc in read_conllu(DATA / f"en_ewt-ud-{name}.conllu", Vocab()):
            out.append([doc.words, [bool(t.whitespace_) for t in doc], [t.tag_ or None for t in doc]])
            if limit and len(out) == limit: break
        return out
    return {"train": rows("train", n_train), "dev": rows("dev")}

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default_python = ROOT / "benchmarks" / ".venv" / "bin" / "python"
    if not default_python.exists(): default_python = Path("/work/spacy-venv/bin/python")
    ap.add_argument("--spacy-python", default=str(default_python))
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=32, help="sentences per update")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--n-train", type=int, default=0, help="use only the first N training sentences (0: all)")
    ap.add_argument("--side", choices=["nlpnb", "spacy"], help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.side:
        run_side(args.side, args.data, args.out, args.epochs, args.batch_size); return
    env = {**os.environ, **{v: str(args.threads) for v in THREAD_VARS}}
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        data_path = Path(tmp) / "data.json"
        data = read_data(args.n_train)
        data_path.write_text(json.dumps(data))
        sides = [("nlpnb", sys.executable)]
        if Path(args.spacy_python).exists(): sides.append(("spacy", args.spacy_python))
        else: print(f"spaCy interpreter not found at {args.spacy_python}: pass --spacy-python; nlpnb numbers only")
        for lib, python in sides:
            out = Path(tmp) / f"{lib}.json"
            cmd = [python, str(Path(__file__).resolve()), "--side", lib, "--data", str(data_path), "--out", str(out),
                   "--epochs", str(args.epochs), "--batch-size", str(args.batch_size)]
            subprocess.run(cmd, check=True, env=env, cwd=str(ROOT))
            results[lib] = json.loads(out.read_text())
    ours, theirs = results["nlpnb"], results.get("spacy")
    print(f"\nTagger (HashEmbedCNN width 96 depth 4), EWT train {len(data['train']):,} sentences "
          f"({ours['n_train_words']:,} words) x {args.epochs} epochs, batches of {args.batch_size} sentences; "
          f"EWT dev {ours['n_dev_words']:,} words; {args.threads} thread(s)")
    print(f"{'':34}{'nlpnb ' + ours['version']:>28}{'spaCy ' + (theirs or {}).get('version', '-'):>30}{'ratio':>8}")
    rows = [("initialize, seconds", lambda r: r["init_s"]), ("first update, seconds", lambda r: r["first_update_s"])]
    rows += [(f"train epoch {i + 1}, words/s", lambda r, i=i: r["epochs"][i]["train_wps"]) for i in range(args.epochs)]
    rows += [("train overall, words/s", lambda r: r["train_wps"]), ("inference, words/s", lambda r: r["infer_wps"]),
             ("inference first pass, seconds", lambda r: r["infer_first_s"])]
    rows += [(f"tag_acc after epoch {i + 1}", lambda r, i=i: r["epochs"][i]["tag_acc"]) for i in range(args.epochs)]
    rows += [("peak memory, MB", lambda r: r["peak_rss_mb"])]
    for name, value in rows:
        a, b = value(ours), value(theirs) if theirs else None
        fmt = (lambda x: f"{x:.4f}") if "acc" in name else (lambda x: f"{x:,.3f}") if "seconds" in name else (lambda x: f"{x:,.0f}")
        print(f"{name:34}{fmt(a):>28}{fmt(b) if b is not None else '-':>30}{(f'{a / b:.2f}' if b else '-'):>8}")
    results["command"] = " ".join([Path(sys.executable).name, *sys.argv])
    (ROOT / "benchmarks" / "results").mkdir(exist_ok=True)
    (ROOT / "benchmarks" / "results" / "bench_tagger.json").write_text(json.dumps(results, indent=1))

if __name__ == "__main__": main()
