"""Token-to-vector speed, nlpnb against spaCy: HashEmbedCNN (width 96, depth 4) over UD English EWT dev.

    python benchmarks/bench_tok2vec.py [--spacy-python benchmarks/.venv/bin/python] [--repeats 3] [--batch-size 128]

Both sides build the same network (`nlpnb.HashEmbedCNN.v1` / `spacy.HashEmbedCNN.v2`: NORM, PREFIX, SUFFIX and
SHAPE hash tables of 2000/1000/1000/1000 rows, Maxout mixing, four residual window-1 Maxout blocks of 3 pieces),
on the same tokens (the EWT dev words, one sentence per Doc, in batches of `--batch-size` sentences), with one
thread each (OMP/MKL/NUMBA/OPENBLAS threads set to 1). spaCy runs in a subprocess with its own interpreter, so
nlpnb never imports it. Printed: the first batch (initialization and JIT warm-up included), words per second for
forward+backward (`begin_update` then the backprop of dY = Y, no optimizer step) and for forward only
(`predict`), best of `--repeats` passes each, and the ratio nlpnb / spaCy. The matrix multiplies (thinc's
`ops.gemm`, i.e. blis) are timed apart, so "outside gemm" shows the cost of our own code (feature extraction,
layers, glue) separately from the BLAS library each environment happens to have.
"""
import os
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS"): os.environ[_var] = "1"
import argparse, json, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "ud_en_ewt"
SHAPE = dict(width=96, depth=4, embed_size=2000, window_size=1, maxout_pieces=3, subword_features=True)

def gemm_clock(model) -> list:
    "Wrap the model's `ops.gemm` to add up its seconds in `clock[0]`: the matrix multiplies, apart from the rest."
    clock = [0.0]
    for ops in {id(node.ops): node.ops for node in model.walk()}.values():
        def gemm(*args, _inner=ops.gemm, **kwargs):
            t0 = time.perf_counter(); out = _inner(*args, **kwargs); clock[0] += time.perf_counter() - t0
            return out
        ops.gemm = gemm
    return clock

def timed_passes(model, batches: list, repeats: int) -> dict:
    "Seconds for the first batch (initialize + first update), then the best pass of train and of predict (and its gemm share)."
    t0 = time.perf_counter()
    model.initialize(X=batches[0])
    Y, backprop = model.begin_update(batches[0]); backprop(Y)
    first = time.perf_counter() - t0
    clock = gemm_clock(model)
    def best(step) -> tuple:
        runs = []
        for _ in range(repeats):
            clock[0] = 0.0; t0 = time.perf_counter()
            for batch in batches: step(batch)
            runs.append((time.perf_counter() - t0, clock[0]))
        return min(runs)
    def train(batch):
        Y, backprop = model.begin_update(batch); backprop(Y)
    (train_s, train_gemm_s), (predict_s, predict_gemm_s) = best(train), best(model.predict)
    return {"first_s": first, "train_s": train_s, "train_gemm_s": train_gemm_s, "predict_s": predict_s,
            "predict_gemm_s": predict_gemm_s}

SPACY_HALF = r'''
import json, sys, time
sys.path.insert(0, sys.argv[3])
import spacy, thinc
from spacy.tokens import Doc
from spacy.util import registry
from bench_tok2vec import timed_passes
words, args = json.load(open(sys.argv[1]))
nlp = spacy.blank("en")
docs = [Doc(nlp.vocab, words=w) for w in words]
batches = [docs[i:i + args["batch_size"]] for i in range(0, len(docs), args["batch_size"])]
model = registry.architectures.get("spacy.HashEmbedCNN.v2")(pretrained_vectors=None, **args["shape"])
result = timed_passes(model, batches, args["repeats"])
result["version"] = f"{spacy.__version__} (thinc {thinc.__version__})"
json.dump(result, open(sys.argv[2], "w"))
'''

def bench_spacy(python: str, words: list, args) -> dict:
    with tempfile.TemporaryDirectory() as d:
        src, out, script = Path(d) / "words.json", Path(d) / "out.json", Path(d) / "spacy_half.py"
        src.write_text(json.dumps([words, {"batch_size": args.batch_size, "repeats": args.repeats, "shape": SHAPE}]))
        script.write_text(SPACY_HALF)
        subprocess.run([python, str(script), str(src), str(out), str(Path(__file__).parent)], check=True, env=os.environ.copy())
        return json.loads(out.read_text())

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default_python = ROOT / "benchmarks" / ".venv" / "bin" / "python"
    if not default_python.exists(): default_python = Path("/work/spacy-venv/bin/python")
    ap.add_argument("--spacy-python", default=str(default_python))
    ap.add_argument("--data", default=str(DATA), help="folder holding en_ewt-ud-dev.conllu")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=128, help="sentences per batch")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    import thinc
    from nlpnb.vocab import Vocab
    from nlpnb.training.converters import read_conllu
    from nlpnb.ml.tok2vec import HashEmbedCNN
    docs = list(read_conllu(Path(args.data) / "en_ewt-ud-dev.conllu", Vocab()))
    words = [doc.words for doc in docs]
    n_words = sum(map(len, words))
    batches = [docs[i:i + args.batch_size] for i in range(0, len(docs), args.batch_size)]
    ours = timed_passes(HashEmbedCNN(pretrained_vectors=None, **SHAPE), batches, args.repeats)
    theirs = None
    if Path(args.spacy_python).exists(): theirs = bench_spacy(args.spacy_python, words, args)
    else: print(f"spaCy interpreter not found at {args.spacy_python}: pass --spacy-python; nlpnb numbers only")
    print(f"HashEmbedCNN width 96 depth 4, EWT dev: {len(docs):,} docs, {n_words:,} words, batches of {args.batch_size} "
          f"docs; one thread; best of {args.repeats} passes")
    print(f"{'':30}{'nlpnb (thinc ' + thinc.__version__ + ')':>22}{'spaCy ' + (theirs or {}).get('version', '-'):>30}{'ratio':>8}")
    rows = [("first batch, seconds", "first_s", lambda r: r["first_s"]),
            ("forward+backward, words/s", "train_s", lambda r: n_words / r["train_s"]),
            ("  of which gemm, seconds", "", lambda r: r["train_gemm_s"]),
            ("  outside gemm, words/s", "", lambda r: n_words / (r["train_s"] - r["train_gemm_s"])),
            ("forward only, words/s", "predict_s", lambda r: n_words / r["predict_s"]),
            ("  outside gemm, words/s", "", lambda r: n_words / (r["predict_s"] - r["predict_gemm_s"]))]
    for name, _, value in rows:
        a, b = value(ours), value(theirs) if theirs else None
        fmt = (lambda x: f"{x:,.3f}") if "seconds" in name else (lambda x: f"{x:,.0f}")
        print(f"{name:30}{fmt(a):>22}{fmt(b) if b else '-':>30}{(f'{a / b:.2f}' if b else '-'):>8}")

if __name__ == "__main__": main()
