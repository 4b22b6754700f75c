"""Text classification, nlpnb against spaCy: `textcat` trained on all of SST-2 train, scored on SST-2 dev.

    python benchmarks/bench_textcat.py [--model bow|ensemble|cnn] [--epochs 3] [--ngram-size 2] [--batch-size 64]
                                       [--spacy-python benchmarks/.venv/bin/python] [--repeats 3]

Both sides run the same function (`run` below) with their own library: `blank("en")`, `add_pipe("textcat")` with
the library's own config of the chosen shape (bow: `nlpnb.TextCatBOW.v1` / `spacy.TextCatBOW.v3`, exclusive classes,
2**18 weight rows, n-grams up to `--ngram-size`; ensemble: each library's default textcat model, a width-64 tok2vec
with attention beside a unigram bag of words; cnn: mean-pooled HashEmbedCNN width 96 depth 4), examples from
`nlp.make_doc` with cats {"POSITIVE": l, "NEGATIVE": 1 - l}, `nlp.initialize`, then `--epochs` passes of
`nlp.update` over shuffled batches of `--batch-size` phrases (the same order on both sides) with the default Adam
optimizer. One thread each (OMP/MKL/NUMBA/OPENBLAS threads set to 1); each side runs in its own subprocess (spaCy
with its own interpreter, so nlpnb never imports it, and peak memory is each side's own). Printed: accuracy on dev
after each epoch (`cats_score`, the macro F
of the two labels, and macro AUC), training words per second (`nlp.update` only; building the Examples is not
counted), inference words per second (`nlp.pipe` over the dev texts, tokenization included, best of `--repeats`),
both per second of the process's CPU time (one thread, so equal to wall time on an idle machine, but not inflated
when other jobs share the cores) and per wall-clock second,
the seconds of `nlp.initialize` and of the first update (warm-up), peak resident memory, and the ratio
nlpnb / spaCy of each; the same goes to benchmarks/results/bench_textcat_MODEL.json.
"""
import os
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS"): os.environ[_var] = "1"
import argparse, json, random, resource, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "sst2"

def read_sst2(path: Path) -> list:
    "(sentence, label) rows of an SST-2 TSV file with the header `sentence<TAB>label`."
    lines = Path(path).read_text(encoding="utf8").splitlines()
    if lines[0].split("\t") != ["sentence", "label"]: raise ValueError(f"{path}: expected the header sentence<TAB>label, got {lines[0]!r}")
    return [(text.strip(), int(label)) for text, label in (line.rsplit("\t", 1) for line in lines[1:])]

def run(lib, Example, model: dict, train_rows: list, dev_rows: list, args: dict) -> dict:
    "Train and time a textcat with library `lib` (nlpnb or spacy); the same code for both."
    from thinc.api import fix_random_seed
    fix_random_seed(0)
    nlp = lib.blank("en")
    nlp.add_pipe("textcat", config={"model": model})
    def examples(rows): return [Example.from_dict(nlp.make_doc(t), {"cats": {"POSITIVE": float(l), "NEGATIVE": 1.0 - l}}) for t, l in rows]
    train, dev = examples(train_rows), examples(dev_rows)
    n_train_words = sum(len(eg.predicted) for eg in train)
    t0 = time.perf_counter()
    optimizer = nlp.initialize(lambda: train)
    init_s = time.perf_counter() - t0
    rng, order, bs = random.Random(0), list(range(len(train))), args["batch_size"]
    train_s, train_cpu_s, first_update_s, epochs = 0.0, 0.0, None, []
    for epoch in range(args["epochs"]):
        rng.shuffle(order)
        batches = [[train[i] for i in order[j:j + bs]] for j in range(0, len(order), bs)]
        losses = {}
        t0, c0 = time.perf_counter(), time.process_time()
        for batch in batches:
            nlp.update(batch, sgd=optimizer, losses=losses)
            if first_update_s is None: first_update_s = time.perf_counter() - t0
        train_s += time.perf_counter() - t0
        train_cpu_s += time.process_time() - c0
        scores = nlp.evaluate(dev)
        epochs.append({"loss": losses["textcat"], "cats_score": scores["cats_score"], "cats_macro_auc": scores["cats_macro_auc"]})
    texts = [t for t, _ in dev_rows]
    n_dev_words = sum(len(eg.predicted) for eg in dev)
    pipe_s, pipe_cpu_s = [], []
    for _ in range(args["repeats"]):
        t0, c0 = time.perf_counter(), time.process_time()
        for _doc in nlp.pipe(texts, batch_size=1000): pass
        pipe_s.append(time.perf_counter() - t0); pipe_cpu_s.append(time.process_time() - c0)
    n_train = n_train_words * args["epochs"]
    return {"epochs": epochs, "train_wps": n_train / train_cpu_s, "pipe_wps": n_dev_words / min(pipe_cpu_s),
            "train_wps_wall": n_train / train_s, "pipe_wps_wall": n_dev_words / min(pipe_s),
            "init_s": init_s, "first_update_s": first_update_s, "train_words": n_train_words, "dev_words": n_dev_words,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}

def model_config(lib_name: str, kind: str, ngram_size: int) -> dict:
    "The library's own textcat model config of shape `kind`, as a plain dict."
    from thinc.api import Config
    if lib_name == "nlpnb":
        from nlpnb.pipeline import textcat as tc
        cfg = {"bow": tc.SINGLE_BOW_MODEL, "ensemble": tc.DEFAULT_SINGLE_TEXTCAT_MODEL, "cnn": tc.SINGLE_CNN_MODEL}[kind]
    else:
        from spacy.pipeline import textcat as tc
        cfg = {"bow": Config().from_str(tc.single_label_bow_config)["model"], "ensemble": tc.DEFAULT_SINGLE_TEXTCAT_MODEL,
               "cnn": Config().from_str(tc.single_label_cnn_config)["model"]}[kind]
    cfg = json.loads(json.dumps(cfg))
    if kind == "bow": cfg["ngram_size"] = ngram_size
    return cfg

HALF = r'''
import json, sys
sys.path.insert(0, sys.argv[3]); sys.path.insert(0, sys.argv[4])
import thinc
from bench_textcat import run, model_config, read_sst2
args = json.load(open(sys.argv[1]))
if args["lib"] == "spacy":
    import spacy as lib
    from spacy.training import Example
else:
    import nlpnb as lib
    import nlpnb.pipeline.textcat  # registers the factories (in case nlpnb doesn't import it)
    from nlpnb.training.example import Example
model = model_config(args["lib"], args["model"], args["ngram_size"])
result = run(lib, Example, model, read_sst2(args["train"]), read_sst2(args["dev"]), args)
result["version"] = f"{getattr(lib, '__version__', '?')} (thinc {thinc.__version__})"
result["model"] = model
json.dump(result, open(sys.argv[2], "w"))
'''

def bench(lib: str, python: str, args: dict) -> dict:
    "Run one side in its own interpreter (so peak memory and imports are its own)."
    with tempfile.TemporaryDirectory() as d:
        src, out, script = Path(d) / "args.json", Path(d) / "out.json", Path(d) / "half.py"
        src.write_text(json.dumps({**args, "lib": lib}))
        script.write_text(HALF)
        subprocess.run([python, str(script), str(src), str(out), str(Path(__file__).parent), str(ROOT)], check=True, env=os.environ.copy())
        return json.loads(out.read_text())

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default_python = ROOT / "benchmarks" / ".venv" / "bin" / "python"
    if not default_python.exists(): default_python = Path("/work/spacy-venv/bin/python")
    ap.add_argument("--spacy-python", default=str(default_python))
    ap.add_argument("--data", default=str(DATA), help="folder holding train.tsv and dev.tsv")
    ap.add_argument("--model", default="bow", choices=["bow", "ensemble", "cnn"])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--ngram-size", type=int, default=2, help="for --model bow")
    ap.add_argument("--batch-size", type=int, default=64, help="phrases per update")
    ap.add_argument("--limit", type=int, default=0, help="use only the first N training phrases (0: all)")
    ap.add_argument("--repeats", type=int, default=3, help="inference passes over dev (the best is kept)")
    ap.add_argument("--skip-spacy", action="store_true")
    a = ap.parse_args()
    args = {"model": a.model, "epochs": a.epochs, "ngram_size": a.ngram_size, "batch_size": a.batch_size, "repeats": a.repeats,
            "train": str(Path(a.data) / "train.tsv"), "dev": str(Path(a.data) / "dev.tsv")}
    train_rows, dev_rows = read_sst2(args["train"]), read_sst2(args["dev"])
    if a.limit:
        train_rows = train_rows[:a.limit]
        args["train"] = str(Path(tempfile.mkdtemp()) / "train.tsv")
        Path(args["train"]).write_text("sentence\tlabel\n" + "".join(f"{t}\t{l}\n" for t, l in train_rows), encoding="utf8")
    ours = bench("nlpnb", sys.executable, args)
    theirs = None
    if a.skip_spacy: pass
    elif Path(a.spacy_python).exists(): theirs = bench("spacy", a.spacy_python, args)
    else: print(f"spaCy interpreter not found at {a.spacy_python}: pass --spacy-python; nlpnb numbers only")
    print(f"textcat ({a.model}{f', ngrams up to {a.ngram_size}' if a.model == 'bow' else ''}) on SST-2: "
          f"{len(train_rows):,} train phrases ({ours['train_words']:,} words) x {a.epochs} epochs in batches of {a.batch_size}, "
          f"{len(dev_rows):,} dev phrases ({ours['dev_words']:,} words); one thread")
    print(f"nlpnb model:  {json.dumps(ours['model'])}")
    if theirs: print(f"spaCy model:  {json.dumps(theirs['model'])}")
    print(f"{'':34}{'nlpnb ' + ours['version']:>22}{'spaCy ' + (theirs or {}).get('version', '-'):>30}{'ratio':>8}")
    rows = [(f"dev cats_score (macro F), epoch {i + 1}", lambda r, i=i: r["epochs"][i]["cats_score"], "{:.4f}") for i in range(a.epochs)]
    rows += [("dev macro AUC, last epoch", lambda r: r["epochs"][-1]["cats_macro_auc"], "{:.4f}"),
             ("train loss, last epoch", lambda r: r["epochs"][-1]["loss"], "{:.3f}"),
             ("training, words/CPU-s", lambda r: r["train_wps"], "{:,.0f}"),
             ("inference (nlp.pipe), words/CPU-s", lambda r: r["pipe_wps"], "{:,.0f}"),
             ("  the same, words/wall-s: training", lambda r: r["train_wps_wall"], "{:,.0f}"),
             ("  inference", lambda r: r["pipe_wps_wall"], "{:,.0f}"),
             ("nlp.initialize, seconds", lambda r: r["init_s"], "{:.3f}"),
             ("first update, seconds", lambda r: r["first_update_s"], "{:.3f}"),
             ("peak memory, MB", lambda r: r["peak_rss_mb"], "{:,.0f}")]
    for name, value, fmt in rows:
        x, y = value(ours), value(theirs) if theirs else None
        ratio = f"{x / y:.2f}" if y else "-"
        print(f"{name:34}{fmt.format(x):>22}{fmt.format(y) if y is not None else '-':>30}{ratio:>8}")
    out = ROOT / "benchmarks" / "results" / f"bench_textcat_{a.model}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"command": " ".join([Path(sys.executable).name, *sys.argv]), "nlpnb": ours, "spacy": theirs,
                               "ratios": {k: ours[k] / theirs[k] for k in ("train_wps", "pipe_wps", "train_wps_wall", "pipe_wps_wall", "init_s",
                                                                           "first_update_s", "peak_rss_mb")}
                               if theirs else None}, indent=1))
    print(f"written to {out.relative_to(ROOT)}")

if __name__ == "__main__": main()
