"""Start-up, nlpnb against spaCy: import, `load`, first and second `nlp(text)` of a saved tagger+parser+ner pipeline,
in fresh processes, with an empty Numba cache ("cold") and a filled one ("cached").

    .venv/bin/python benchmarks/bench_startup.py [--spacy-python benchmarks/.venv/bin/python] [--repeat 3]
        [--n-train 200] [--epochs 1] [--only nlpnb|spacy]

Each library builds its own `init config --optimize efficiency` for tagger, parser and ner (one shared tok2vec read
through listeners; `bench_parser.align_config` settings), initializes it on the first `--n-train` EWT train sentences
(tags, heads, deps) and the first `--n-train` WikiANN train sentences (entities), trains `--epochs` passes over them
(so the saved weights are not the initial ones), and saves it with `nlp.to_disk`. Then, for each library, a fresh
process (`bench_parser.first_call`) imports the library, loads the pipeline, and times the first and the second
`nlp(text)` on the text of the first EWT dev sentence of at least 15 words (tokenizer included). That process runs with
NUMBA_CACHE_DIR set to a new empty folder ("cold": a fresh install that has never run), then `--repeat` more times on
the same folder ("cached"; the best of them is printed). The cold run is repeated `--repeat` times too, each with a new
empty folder (best printed). spaCy does not use Numba: its cold and cached rows differ only by the operating system's
file cache. nlpnb's first small calls run the plain Python / numpy forms of its kernels (`nlpnb.warm`), and a process
compiles what Numba's cache lacks when it exits: "whole process" (interpreter start to exit, wall seconds) shows where
that compilation went.

Printed per row: nlpnb, spaCy and nlpnb / spaCy, for wall seconds and process CPU seconds (`time.process_time`, less
sensitive to other load on a shared machine), and "load + first call", the number the start-up goal is about. All
processes run with one thread (OMP/MKL/OPENBLAS/NUMBA). Written to benchmarks/results/bench_startup.json
(bench_startup_ONLY.json with `--only`). A benchmark (minutes: each cold nlpnb process compiles at exit), not a test.
"""
import argparse, json, os, subprocess, sys, tempfile, time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import bench_parser as bp  # noqa: E402  (the same library adapters, data readers and fresh-process probe)

PIPELINE = ["tagger", "parser", "ner"]
ROWS = [("import", "import"), ("load", "load"), ("first nlp(text)", "first_call"), ("second nlp(text)", "second_call")]

def build_side(lib: str, data_path: str, model_dir: str, epochs: int) -> None:
    "One library's pipeline: init config, initialize on EWT + WikiANN examples, train `epochs` passes, save."
    _, make_config, from_config, Doc, Example, _, _ = bp._library(lib)
    from thinc.api import Adam, fix_random_seed
    fix_random_seed(0)
    config = make_config(PIPELINE)
    bp.align_config(config, "parser")
    nlp = from_config(config)
    data = json.loads(Path(data_path).read_text())
    train = [Example(bp.make_doc(Doc, nlp.vocab, task, r, False), bp.make_doc(Doc, nlp.vocab, task, r, True))
             for task in ("parser", "ner") for r in data[task]]
    opt = Adam(**bp.ADAM)
    nlp.initialize(lambda: train, sgd=opt)
    for epoch in range(epochs):
        order = list(range(len(train)))
        bp.random.Random(epoch).shuffle(order)
        for ids in bp.word_batches(order, [len(e.reference) for e in train], 500):
            nlp.update([train[i] for i in ids], drop=0.1, sgd=opt)
    nlp.to_disk(model_dir)

def probe(python: str, lib: str, model_dir: Path, text: str, out: Path, env: dict, cache: Path) -> dict:
    "One fresh process: import, load, first and second call (bench_parser.first_call), with NUMBA_CACHE_DIR=`cache`."
    t0 = time.perf_counter()
    proc = subprocess.run([python, str(HERE / "bench_parser.py"), "--first-call", lib, "--model-dir", str(model_dir),
                           "--text", text, "--out", str(out)], env={**env, "NUMBA_CACHE_DIR": str(cache)}, cwd=str(ROOT))
    if proc.returncode != 0: raise SystemExit(f"{lib}: the fresh-process probe failed (exit status {proc.returncode})")
    r = json.loads(out.read_text())
    r["process_s"] = time.perf_counter() - t0
    r["load_first_s"], r["load_first_cpu_s"] = r["load_s"] + r["first_call_s"], r["load_cpu_s"] + r["first_call_cpu_s"]
    return r

def best(runs: list) -> dict:
    "Per key, the smallest value over `runs` (the least disturbed by other load)."
    return {k: min(r[k] for r in runs) for k in runs[0] if isinstance(runs[0][k], (int, float))}

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default_python = HERE / ".venv" / "bin" / "python"
    if not default_python.exists(): default_python = Path("/work/main/benchmarks/.venv/bin/python")
    ap.add_argument("--spacy-python", default=str(default_python))
    ap.add_argument("--repeat", type=int, default=3, help="fresh processes per row (cold: each with a new empty cache)")
    ap.add_argument("--n-train", type=int, default=200, help="EWT and WikiANN training sentences (each)")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--only", choices=["nlpnb", "spacy"])
    ap.add_argument("--build", choices=["nlpnb", "spacy"], help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    ap.add_argument("--model-dir", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.build: build_side(args.build, args.data, args.model_dir, args.epochs); return
    env = {**os.environ, **{v: "1" for v in bp.THREAD_VARS}}
    sides = [] if args.only == "spacy" else [("nlpnb", sys.executable)]
    if args.only != "nlpnb":
        if Path(args.spacy_python).exists(): sides.append(("spacy", args.spacy_python))
        else: print(f"spaCy interpreter not found at {args.spacy_python}: pass --spacy-python; nlpnb numbers only")
    res = {"command": " ".join([Path(sys.executable).name, *sys.argv]), "args": vars(args)}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = bp.read_data(["parser", "ner"], args.n_train, 50)
        (tmp / "data.json").write_text(json.dumps({t: data[t]["train"] for t in data}))
        text = next(bp.text_of(r) for r in data["parser"]["dev"] if len(r[0]) >= 15)  # a sentence, not a heading
        res["text"] = text
        for lib, python in sides:
            model = tmp / f"{lib}_model"
            print(f"{lib}: building and saving tagger+parser+ner", flush=True)
            subprocess.run([python, __file__, "--build", lib, "--data", str(tmp / "data.json"), "--model-dir", str(model),
                            "--epochs", str(args.epochs)], env={**env, "NUMBA_CACHE_DIR": str(tmp / "build_cache")},
                           cwd=str(ROOT), check=True)
            cold, cached = [], []
            for i in range(args.repeat):
                cache = tmp / f"cache_{lib}_{i}"
                cache.mkdir()
                cold.append(probe(python, lib, model, text, tmp / "out.json", env, cache))
                print(f"  {lib} cold {i + 1}: load {cold[-1]['load_s']:.3f} s, first call {cold[-1]['first_call_s']:.3f} s", flush=True)
            for i in range(args.repeat):
                cached.append(probe(python, lib, model, text, tmp / "out.json", env, tmp / f"cache_{lib}_0"))
                print(f"  {lib} cached {i + 1}: load {cached[-1]['load_s']:.3f} s, first call {cached[-1]['first_call_s']:.3f} s", flush=True)
            res[lib] = {"cold": best(cold), "cached": best(cached), "cold_runs": cold, "cached_runs": cached}
    ours, theirs = res.get("nlpnb"), res.get("spacy")
    print(f"\ntagger+parser+ner, fresh process, best of {args.repeat}; text: {len(text.split())} words; 1 thread")
    print(f"{'':44}{'nlpnb':>10}{'spaCy':>10}{'ratio':>8}")
    for run in ("cold", "cached"):
        for unit, suffix in (("seconds", "_s"), ("CPU seconds", "_cpu_s")):
            keys = ROWS + [("load + first nlp(text)", "load_first"), ("whole process (start to exit)", "process")]
            for name, key in keys:
                if unit == "CPU seconds" and key in ("second_call", "process"): continue
                x = ours[run].get(key + suffix) if ours else None
                y = theirs[run].get(key + suffix) if theirs else None
                ratio = f"{x / y:.2f}" if x is not None and y else "-"
                label = f"{run}: {name}, {unit}"
                print(f"{label:44}{(f'{x:.3f}' if x is not None else '-'):>10}{(f'{y:.3f}' if y is not None else '-'):>10}{ratio:>8}")
    path = HERE / "results" / (f"bench_startup_{args.only}.json" if args.only else "bench_startup.json")
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(res, indent=1))
    print(f"\nwritten to {path.relative_to(ROOT)}")

if __name__ == "__main__": main()
