"""Dependency parser and entity recognizer, nlpnb against spaCy: tagger + parser on UD English EWT, ner on WikiANN.

    .venv/bin/python benchmarks/bench_parser.py [--spacy-python benchmarks/.venv/bin/python] [--epochs 3]
        [--batch-words 500] [--threads 1] [--n-train N] [--n-dev N] [--tasks parser,ner] [--only nlpnb|spacy]

A long run (minutes; not a test). Two pipelines are trained, each by both libraries in the same run, on the same data,
epochs, batches and threads:

- `parser` task: tok2vec + tagger + parser, the tagger and parser reading one shared tok2vec through listeners, trained
  on ../shared/data/ud_en_ewt/en_ewt-ud-train.conllu (XPOS tags, heads, dependency labels; one sentence per Doc) and
  scored on en_ewt-ud-dev.conllu: tag_acc, dep_uas, dep_las, sents_f.
- `ner` task: tok2vec + ner (again through a listener), trained on ../shared/data/wikiann_en/train.iob and scored on
  dev.iob (IOB2 tags PER/ORG/LOC; one sentence per Doc): ents_f (and ents_p, ents_r).

Each pipeline is the library's own `init config --optimize efficiency` for those components: spaCy's from
`spacy.cli.init_config.init_config(lang="en", pipeline=[...], optimize="efficiency")` (what `spacy init config` writes),
nlpnb's from `nlpnb.init_config.init_config(lang="en", pipeline=[...], optimize="efficiency")`. That is a
MultiHashEmbed (NORM, PREFIX, SUFFIX, SHAPE; 5000/1000/2500/2500 rows) + MaxoutWindowEncoder (width 96, depth 4,
window 1, 3 pieces) tok2vec; `TransitionBasedParser` models with hidden_width 128, maxout_pieces 3 (parser) and
hidden_width 64, maxout_pieces 2 (ner), use_upper true; the tagger's label_smoothing is set to 0.05 (spaCy's
init-config value) on both sides. The script prints every component setting in which the two resolved configs still
differ, so a mismatch can't go unnoticed.

Training is each library's own `nlp.update` loop (not `train`): `nlp.initialize` over the training Examples, then
`--epochs` passes over the sentences shuffled with the same seed on both sides, in batches that take sentences until
they hold at least `--batch-words` words, with dropout 0.1 and the same thinc Adam (learn rate 0.001, beta1 0.9,
beta2 0.999, L2 weight decay 0.01, gradient clipping 1.0, no parameter averaging). The data are read once here, with
nlpnb's CoNLL-U and IOB readers, and handed to both sides as JSON (words, spaces, tags, heads, deps; or words, spaces,
IOB2 entity tags), so both build Docs with identical tokens.

Each side runs in its own process (nlpnb with this interpreter, spaCy with `--spacy-python`; nlpnb never imports spaCy)
with OMP/MKL/OPENBLAS/NUMBA threads set to `--threads`. Measured, for each task and library, with the ratio
nlpnb / spaCy:
- dev accuracy after each epoch, by each library's own `nlp.evaluate` (fresh predicted Docs);
- training words per second: words of the training set times epochs, over the seconds spent inside `nlp.update`
  only (building Examples, batching and evaluation excluded); also `nlp.initialize` and first-update seconds;
- inference words per second: `nlp.pipe` over fresh dev Docs (built from words and spaces, so no tokenizer) with
  batch_size 1000, best of 3 passes (the first pass is reported apart);
- peak resident memory of the training process;
- first-call latency: the trained pipeline is saved with `nlp.to_disk`, and a fresh process imports the library,
  loads it (`nlpnb.load` / `spacy.load`) and times the first `nlp(text)` on a dev sentence's text (tokenizer
  included), which for nlpnb includes Numba JIT compilation. That process runs twice with NUMBA_CACHE_DIR set to a new
  empty folder: the first run compiles everything ("cold"), the second reads Numba's on-disk cache ("cached"). Its
  import, load and second-call times and peak memory are reported too.

Printed as a table per task; written to benchmarks/results/bench_parser.json. A run that is not complete (`--only`,
a subset of `--tasks`, or a side that failed) writes bench_parser_ONLY.json / bench_parser_partial[_TASK].json instead,
so it never overwrites a complete side-by-side result.
"""
import argparse, importlib, json, os, random, resource, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
EWT, WIKIANN = DATA / "ud_en_ewt", DATA / "wikiann_en"
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")
PIPELINES = {"parser": ["tagger", "parser"], "ner": ["ner"]}
SCORES = {"parser": ["tag_acc", "dep_uas", "dep_las", "sents_f"], "ner": ["ents_f", "ents_p", "ents_r"]}
# settings set explicitly on both sides (where the component has them), on top of each library's init config
OVERRIDES = {"tagger": {"label_smoothing": 0.05}}
ADAM = dict(learn_rate=0.001, beta1=0.9, beta2=0.999, eps=1e-8, L2=0.01, L2_is_weight_decay=True, grad_clip=1.0,
            use_averages=False)

# ---------------------------------------------------------------------------------------------------------------------
# one library's side (runs in that library's interpreter)

def _library(lib: str):
    "(module, Language-from-config function, Doc, Example, load, version) of `lib`; nlpnb never imports spaCy."
    import thinc
    if lib == "nlpnb":
        import nlpnb
        from nlpnb.language import Language
        try: importlib.import_module("nlpnb.pipeline.transition_parser")  # registers parser and ner
        except ImportError as e: print(f"  nlpnb: can't import nlpnb.pipeline.transition_parser ({e})", flush=True)
        from nlpnb.tokens.doc import Doc
        from nlpnb.training.example import Example
        from nlpnb.init_config import init_config
        make_config = lambda pipeline: init_config(lang="en", pipeline=pipeline, optimize="efficiency")
        return nlpnb, make_config, Language.from_config, Doc, Example, nlpnb.load, f"{nlpnb.__version__} (thinc {thinc.__version__})"
    import spacy
    from spacy.tokens import Doc
    from spacy.training import Example
    from spacy.cli.init_config import init_config
    make_config = lambda pipeline: init_config(lang="en", pipeline=pipeline, optimize="efficiency", gpu=False,
                                               pretraining=False, silent=True)
    from_config = lambda config: spacy.util.load_model_from_config(config, auto_fill=True, validate=True)
    return spacy, make_config, from_config, Doc, Example, spacy.load, f"{spacy.__version__} (thinc {thinc.__version__})"

def _flat(node, prefix: str = "") -> dict:
    "A config section as {dotted.key: value}; registry names lose their library prefix (spacy./nlpnb.) and version."
    out = {}
    for k, v in node.items():
        key = f"{prefix}.{k}" if prefix else k
        if isinstance(v, dict): out.update(_flat(v, key))
        elif isinstance(k, str) and k.startswith("@") and isinstance(v, str):
            out[key] = v.split(".", 1)[-1].rsplit(".v", 1)[0] if v.split(".", 1)[0] in ("spacy", "nlpnb") else v
        else: out[key] = v
    return out

def make_doc(Doc, vocab, task: str, row, annotated: bool):
    if task == "parser":
        words, spaces, tags, heads, deps = row
        if not annotated: return Doc(vocab, words=words, spaces=spaces)
        return Doc(vocab, words=words, spaces=spaces, tags=tags, heads=heads, deps=deps)
    words, spaces, ents = row
    return Doc(vocab, words=words, spaces=spaces, ents=ents) if annotated else Doc(vocab, words=words, spaces=spaces)

def word_batches(order, lengths, size: int):
    "Consecutive sentences of `order`, each batch closed once it holds at least `size` words."
    batch, n = [], 0
    for i in order:
        batch.append(i); n += lengths[i]
        if n >= size: yield batch; batch, n = [], 0
    if batch: yield batch

def run_side(lib: str, task: str, data_path: str, out_path: str, model_dir: str, epochs: int, batch_words: int) -> None:
    "One library's training run for one task, in this process: build, initialize, train, evaluate, time, save."
    _, make_config, from_config, Doc, Example, _, version = _library(lib)
    from thinc.api import Adam, fix_random_seed
    data = json.loads(Path(data_path).read_text())[task]
    fix_random_seed(0)
    config = make_config(PIPELINES[task])
    for name, settings in OVERRIDES.items():
        block = config["components"].get(name)
        if block is not None:
            for key, value in settings.items():
                if key in block: block[key] = value
    nlp = from_config(config)
    cfg = nlp.config
    try: cfg = cfg.interpolate()
    except Exception: pass
    settings = {k: v for k, v in _flat(dict(cfg["components"])).items()}
    def examples(rows): return [Example(make_doc(Doc, nlp.vocab, task, r, False), make_doc(Doc, nlp.vocab, task, r, True)) for r in rows]
    train = examples(data["train"])
    lengths = [len(r[0]) for r in data["train"]]
    n_train, n_dev = sum(lengths), sum(len(r[0]) for r in data["dev"])
    opt = Adam(**ADAM)
    t0 = time.perf_counter()
    nlp.initialize(lambda: train, sgd=opt)
    out = {"lib": lib, "task": task, "version": version, "pipeline": list(nlp.pipe_names), "settings": settings,
           "init_s": time.perf_counter() - t0, "n_train_sents": len(train), "n_train_words": n_train,
           "n_dev_sents": len(data["dev"]), "n_dev_words": n_dev, "epochs": []}
    order = list(range(len(train)))
    for epoch in range(epochs):
        random.Random(epoch).shuffle(order)
        seconds, cpu_seconds, losses, n_updates = 0.0, 0.0, {}, 0
        for batch_ids in word_batches(order, lengths, batch_words):
            batch = [train[j] for j in batch_ids]
            t0, c0 = time.perf_counter(), time.process_time()
            nlp.update(batch, drop=0.1, sgd=opt, losses=losses)
            dt = time.perf_counter() - t0
            cpu_seconds += time.process_time() - c0
            if epoch == 0 and n_updates == 0: out["first_update_s"] = dt
            seconds += dt; n_updates += 1
        t0 = time.perf_counter()
        scores = nlp.evaluate(examples(data["dev"]))
        eval_s = time.perf_counter() - t0
        entry = {"train_s": seconds, "train_cpu_s": cpu_seconds, "train_wps": n_train / seconds, "updates": n_updates,
                 "losses": {k: float(v) for k, v in losses.items()}, "eval_s": eval_s,
                 **{k: scores.get(k) for k in SCORES[task]}}
        out["epochs"].append(entry)
        shown = ", ".join(f"{k} {entry[k]:.4f}" for k in SCORES[task] if entry[k] is not None)
        print(f"  {lib} {task} epoch {epoch + 1}: {n_train / seconds:,.0f} words/s, {shown}", flush=True)
    nlp.to_disk(model_dir)
    runs = []
    for _ in range(3):
        docs = [make_doc(Doc, nlp.vocab, task, r, False) for r in data["dev"]]
        t0 = time.perf_counter()
        for _ in nlp.pipe(docs, batch_size=1000): pass
        runs.append(time.perf_counter() - t0)
    last = out["epochs"][-1]
    out.update({k: last[k] for k in SCORES[task]})
    out.update(infer_first_s=runs[0], infer_wps=n_dev / min(runs),
               train_wps=n_train * epochs / sum(e["train_s"] for e in out["epochs"]),
               train_cpu_wps=n_train * epochs / sum(e["train_cpu_s"] for e in out["epochs"]),
               peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    Path(out_path).write_text(json.dumps(out))

def first_call(lib: str, model_dir: str, text: str, out_path: str) -> None:
    "In a fresh process: import the library, load the saved pipeline, time the first and second `nlp(text)`."
    t0 = time.perf_counter()
    _, _, _, _, _, load, _ = _library(lib)
    import_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    nlp = load(model_dir)
    load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    doc = nlp(text)
    first_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    nlp(text)
    second_s = time.perf_counter() - t0
    Path(out_path).write_text(json.dumps({"import_s": import_s, "load_s": load_s, "first_call_s": first_s,
                                          "second_call_s": second_s, "n_words": len(doc),
                                          "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))

# ---------------------------------------------------------------------------------------------------------------------
# the driver (this interpreter)

def read_data(n_train: int, n_dev: int) -> dict:
    "EWT (words, spaces, XPOS, absolute heads, deps) and WikiANN (words, spaces, IOB2 tags) rows, read by nlpnb."
    sys.path.insert(0, str(ROOT))
    from nlpnb.training.converters import read_conllu, read_iob_sentences
    from nlpnb.vocab import Vocab
    def ewt(name, limit):
        out = []
        for doc in read_conllu(EWT / f"en_ewt-ud-{name}.conllu", Vocab()):
            out.append([list(doc.words), [bool(t.whitespace_) for t in doc], [t.tag_ or None for t in doc],
                        [t.head.i for t in doc], [t.dep_ or None for t in doc]])
            if limit and len(out) == limit: break
        return out
    def wikiann(name, limit):
        out = []
        for sent in read_iob_sentences(WIKIANN / f"{name}.iob", scheme="iob2"):
            out.append([list(sent.words), [True] * (len(sent.words) - 1) + [False], list(sent.tags)])
            if limit and len(out) == limit: break
        return out
    return {"parser": {"train": ewt("train", n_train), "dev": ewt("dev", n_dev)},
            "ner": {"train": wikiann("train", n_train), "dev": wikiann("dev", n_dev)}}

def text_of(row) -> str: return "".join(w + (" " if s else "") for w, s in zip(row[0], row[1])).strip()

def _fmt(name: str, x) -> str:
    if x is None: return "-"
    if "seconds" in name: return f"{x:,.3f}"
    if "words/" in name or "MB" in name: return f"{x:,.0f}"
    return f"{x:.4f}"

def print_table(task: str, res: dict, args) -> None:
    ours, theirs = res.get("nlpnb"), res.get("spacy")
    any_side = ours or theirs
    what = ("tok2vec + tagger + parser (listeners) on UD English EWT" if task == "parser"
            else "tok2vec + ner (listener) on WikiANN English")
    print(f"\n{what}: train {any_side['n_train_sents']:,} sentences ({any_side['n_train_words']:,} words) x {args.epochs} "
          f"epochs in batches of >= {args.batch_words} words; dev {any_side['n_dev_sents']:,} sentences "
          f"({any_side['n_dev_words']:,} words); {args.threads} thread(s)")
    if ours and theirs:
        a, b = ours["settings"], theirs["settings"]
        diff = {k: (a.get(k, "(none)"), b.get(k, "(none)")) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}
        if diff:
            print("  config settings that differ (nlpnb | spaCy):")
            for k, (x, y) in diff.items(): print(f"    {k}: {json.dumps(x)} | {json.dumps(y)}")
        else: print("  configs: every component setting matches")
    print(f"{'':42}{'nlpnb ' + (ours or {}).get('version', '-'):>26}{'spaCy ' + (theirs or {}).get('version', '-'):>30}{'ratio':>8}")
    rows = [(f"{k}", lambda r, k=k: r[k]) for k in SCORES[task]]
    main = "dep_las" if task == "parser" else "ents_f"
    rows += [(f"{main} after epoch {i + 1}", lambda r, i=i: r["epochs"][i][main]) for i in range(args.epochs)]
    rows += [("train, words/s (nlp.update)", lambda r: r["train_wps"]),
             ("train, words/CPU-s", lambda r: r["train_cpu_wps"]),
             ("inference, words/s (nlp.pipe, best of 3)", lambda r: r["infer_wps"]),
             ("inference first pass, seconds", lambda r: r["infer_first_s"]),
             ("nlp.initialize, seconds", lambda r: r["init_s"]),
             ("first update, seconds", lambda r: r["first_update_s"]),
             ("peak memory (training), MB", lambda r: r["peak_rss_mb"])]
    for run in ("cold", "cached"):
        rows += [(f"fresh process ({run}): import, seconds", lambda r, run=run: r["first_call"][run]["import_s"]),
                 (f"  load, seconds", lambda r, run=run: r["first_call"][run]["load_s"]),
                 (f"  first nlp(text), seconds", lambda r, run=run: r["first_call"][run]["first_call_s"]),
                 (f"  second nlp(text), seconds", lambda r, run=run: r["first_call"][run]["second_call_s"]),
                 (f"  peak memory, MB", lambda r, run=run: r["first_call"][run]["peak_rss_mb"])]
    ratios, section = {}, ""
    for name, value in rows:
        if not name.startswith(" "): section = name.split(":")[0]
        key = f"{section}: {name.strip()}" if name.startswith(" ") else name
        def get(r):
            try: return value(r) if r else None
            except (KeyError, IndexError, TypeError): return None
        x, y = get(ours), get(theirs)
        ratio = x / y if x is not None and y else None
        if ratio is not None: ratios[key] = ratio
        print(f"{name:42}{_fmt(name, x):>26}{_fmt(name, y):>30}{(f'{ratio:.2f}' if ratio is not None else '-'):>8}")
    res["ratios"] = ratios

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default_python = ROOT / "benchmarks" / ".venv" / "bin" / "python"
    if not default_python.exists(): default_python = Path("/work/spacy-venv/bin/python")
    ap.add_argument("--spacy-python", default=str(default_python))
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-words", type=int, default=500, help="a batch takes sentences until it holds this many words")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--n-train", type=int, default=0, help="use only the first N training sentences of each corpus (0: all)")
    ap.add_argument("--n-dev", type=int, default=0, help="use only the first N dev sentences of each corpus (0: all)")
    ap.add_argument("--tasks", default="parser,ner", help="comma-separated: parser (tagger+parser on EWT), ner (WikiANN)")
    ap.add_argument("--only", choices=["nlpnb", "spacy"], help="run one library's side only")
    ap.add_argument("--side", choices=["nlpnb", "spacy"], help=argparse.SUPPRESS)
    ap.add_argument("--first-call", choices=["nlpnb", "spacy"], help=argparse.SUPPRESS)
    ap.add_argument("--task", help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    ap.add_argument("--model-dir", help=argparse.SUPPRESS)
    ap.add_argument("--text", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.side:
        run_side(args.side, args.task, args.data, args.out, args.model_dir, args.epochs, args.batch_words); return
    if args.first_call:
        first_call(args.first_call, args.model_dir, args.text, args.out); return
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    if not tasks or set(tasks) - set(PIPELINES): ap.error(f"--tasks: choose from {', '.join(PIPELINES)}")
    env = {**os.environ, **{v: str(args.threads) for v in THREAD_VARS}}
    sides = []
    if args.only != "spacy": sides.append(("nlpnb", sys.executable))
    if args.only != "nlpnb":
        if Path(args.spacy_python).exists(): sides.append(("spacy", args.spacy_python))
        else: print(f"spaCy interpreter not found at {args.spacy_python}: pass --spacy-python; nlpnb numbers only")
    results = {"command": " ".join([Path(sys.executable).name, *sys.argv]), "args": vars(args)}
    script = str(Path(__file__).resolve())
    with tempfile.TemporaryDirectory() as tmp:
        data_path = Path(tmp) / "data.json"
        data = read_data(args.n_train, args.n_dev)
        data_path.write_text(json.dumps({t: data[t] for t in tasks}))
        for task in tasks:
            results[task] = {}
            text = text_of(data[task]["dev"][0])
            for lib, python in sides:
                out, model_dir = Path(tmp) / f"{lib}_{task}.json", Path(tmp) / f"{lib}_{task}_model"
                cmd = [python, script, "--side", lib, "--task", task, "--data", str(data_path), "--out", str(out),
                       "--model-dir", str(model_dir), "--epochs", str(args.epochs), "--batch-words", str(args.batch_words)]
                print(f"{lib} {task}: training", flush=True)
                proc = subprocess.run(cmd, env=env, cwd=str(ROOT))
                if proc.returncode != 0:
                    print(f"  {lib} {task}: failed (exit status {proc.returncode}); see the traceback above", flush=True)
                    results[task][lib] = None; continue
                res = json.loads(out.read_text())
                res["first_call"] = {}
                cache = Path(tmp) / f"numba_cache_{lib}_{task}"
                cache.mkdir()
                for run in ("cold", "cached"):
                    fc = Path(tmp) / f"{lib}_{task}_first_{run}.json"
                    proc = subprocess.run([python, script, "--first-call", lib, "--model-dir", str(model_dir),
                                           "--text", text, "--out", str(fc)],
                                          env={**env, "NUMBA_CACHE_DIR": str(cache)}, cwd=str(ROOT))
                    if proc.returncode == 0: res["first_call"][run] = json.loads(fc.read_text())
                    else: print(f"  {lib} {task}: loading the saved pipeline failed (exit status {proc.returncode})", flush=True)
                res["first_call_text"] = text
                results[task][lib] = res
    for task in tasks:
        if any(results[task].values()): print_table(task, results[task], args)
    if not any(r for task in tasks for r in results[task].values()):
        print("\nno side finished: nothing written"); sys.exit(1)
    # only a complete side-by-side run (both libraries, both tasks, nothing failed) writes bench_parser.json
    complete = len(sides) == 2 and set(tasks) == set(PIPELINES) and all(results[t].get(l) for t in tasks for l, _ in sides)
    suffix = "" if complete else "_" + "_".join([args.only or "partial", *([] if set(tasks) == set(PIPELINES) else tasks)])
    name = f"bench_parser{suffix}.json"
    path = ROOT / "benchmarks" / "results" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(results, indent=1))
    print(f"\nwritten to {path.relative_to(ROOT)}")

if __name__ == "__main__": main()
