"""Training and inference speed, nlpnb against spaCy, in CPU seconds: a short, reproducible run for a loaded machine.

    .venv/bin/python benchmarks/bench_speed.py [--spacy-python benchmarks/.venv/bin/python] [--tasks parser,ner]
        [--n-train 2000] [--n-dev 2000] [--epochs 2] [--passes 3] [--batch-words 500] [--group 10]
        [--only nlpnb|spacy] [--profile FILE]

For each task (`parser`: tok2vec + tagger + parser on UD English EWT, sentences grouped `--group` to a Doc as
`convert -n 10` writes them; `ner`: tok2vec + ner on WikiANN) and each library, in its own process with one thread
(OMP/MKL/OPENBLAS/NUMBA_NUM_THREADS=1), the library's own `init config --optimize efficiency` pipeline (the same
settings as benchmarks/bench_parser.py, which this script reuses) is initialized on the first `--n-train` training
sentences and trained `--epochs` passes with `nlp.update` (batches of >= `--batch-words` words, dropout 0.1, the same
Adam). Measured per library, with the ratio nlpnb / spaCy printed from the same run:
- training words per CPU second: training words over the process CPU time (`time.process_time`) inside `nlp.update`;
  the first epoch's first update (JIT compilation) is left out of both sides; also the last epoch alone (the first
  pays one-time costs: new words' lexical attributes, alignments, nlpnb's gold parses kept for later epochs);
- inference words per CPU second: `nlp.pipe(docs, batch_size=1000)` over fresh Docs of the first `--n-dev` dev
  sentences (built from words and spaces: no tokenizer), best of `--passes` passes after one warm-up pass;
- the shared tok2vec's `predict` alone over the same dev Docs (batches of 1000), words per CPU second: the same thinc
  layers on both sides, so its ratio is about 1, and it bounds what the rest of the pipeline can gain;
- the same two as wall-clock words/s (noisy on a shared machine; the CPU figures are the ones to compare).
Accuracy is not measured here (see bench_parser.py); the run takes about a minute per task and library.
`--profile FILE` also writes cProfile stats of nlpnb's training and inference (FILE.train.prof, FILE.pipe.prof).
"""
import argparse, json, os, subprocess, sys, tempfile, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_parser as bp  # noqa: E402

ROOT = bp.ROOT

def run_side(lib, task, data_path, out_path, epochs, batch_words, passes, profile=None):
    "One library's short training and inference run for `task`, timed in process CPU seconds."
    _, make_config, from_config, Doc, Example, _, version = bp._library(lib)
    from thinc.api import Adam, fix_random_seed
    import random
    data = json.loads(Path(data_path).read_text())[task]
    fix_random_seed(0)
    config = make_config(bp.PIPELINES[task])
    bp.align_config(config, task)
    nlp = from_config(config)
    train = [Example(bp.make_doc(Doc, nlp.vocab, task, r, False), bp.make_doc(Doc, nlp.vocab, task, r, True))
             for r in data["train"]]
    lengths = [len(r[0]) for r in data["train"]]
    opt = Adam(**bp.ADAM)
    nlp.initialize(lambda: train, sgd=opt)
    prof = None
    if profile and lib == "nlpnb":
        import cProfile
        prof = cProfile.Profile(time.process_time)
    words = cpu = wall = 0.0
    order = list(range(len(train)))
    for epoch in range(epochs):
        random.Random(epoch).shuffle(order)
        losses, last_words, last_cpu = {}, 0.0, 0.0
        for k, ids in enumerate(bp.word_batches(order, lengths, batch_words)):
            batch = [train[j] for j in ids]
            if prof and not (epoch == 0 and k == 0): prof.enable()
            t0, c0 = time.perf_counter(), time.process_time()
            nlp.update(batch, drop=0.1, sgd=opt, losses=losses)
            dc, dt = time.process_time() - c0, time.perf_counter() - t0
            if prof: prof.disable()
            if epoch == 0 and k == 0: continue  # compilation on the first call
            words += sum(lengths[j] for j in ids); cpu += dc; wall += dt
            last_words += sum(lengths[j] for j in ids); last_cpu += dc
    if prof: prof.dump_stats(f"{profile}.train.prof")
    n_dev = sum(len(r[0]) for r in data["dev"])
    t2v = nlp.get_pipe("tok2vec")
    t2v_cpu = float("inf")
    for _ in range(passes):   # the shared tok2vec alone (thinc layers on both sides), in batches of 1000 docs
        docs = [bp.make_doc(Doc, nlp.vocab, task, r, False) for r in data["dev"]]
        c0 = time.process_time()
        for k in range(0, len(docs), 1000): t2v.predict(docs[k:k + 1000])
        t2v_cpu = min(t2v_cpu, time.process_time() - c0)
    def fresh(): return [bp.make_doc(Doc, nlp.vocab, task, r, False) for r in data["dev"]]
    for _ in nlp.pipe(fresh(), batch_size=1000): pass  # warm-up (compilation of the inference kernels)
    if profile and lib == "nlpnb":
        import cProfile
        prof = cProfile.Profile(time.process_time)
    best_cpu = best_wall = float("inf")
    for _ in range(passes):
        docs = fresh()
        if prof: prof.enable()
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in nlp.pipe(docs, batch_size=1000): pass
        best_cpu, best_wall = min(best_cpu, time.process_time() - c0), min(best_wall, time.perf_counter() - t0)
        if prof: prof.disable()
    if prof: prof.dump_stats(f"{profile}.pipe.prof")
    Path(out_path).write_text(json.dumps({
        "lib": lib, "version": version, "n_train_words": sum(lengths), "train_words_timed": words,
        "train_cpu_wps": words / cpu, "train_wps": words / wall, "n_dev_words": n_dev,
        "infer_cpu_wps": n_dev / best_cpu, "infer_wps": n_dev / best_wall, "last_epoch_cpu_wps": last_words / last_cpu,
        "tok2vec_cpu_wps": n_dev / t2v_cpu}))

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default_python = ROOT / "benchmarks" / ".venv" / "bin" / "python"
    if not default_python.exists(): default_python = Path("/work/main/benchmarks/.venv/bin/python")
    ap.add_argument("--spacy-python", default=str(default_python))
    ap.add_argument("--tasks", default="parser,ner", help="comma-separated: parser, ner")
    ap.add_argument("--n-train", type=int, default=2000, help="training sentences (before grouping)")
    ap.add_argument("--n-dev", type=int, default=2000, help="dev sentences (before grouping)")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--passes", type=int, default=3, help="timed nlp.pipe passes (the best counts)")
    ap.add_argument("--batch-words", type=int, default=500)
    ap.add_argument("--group", type=int, default=10, help="parser task: EWT sentences per Doc")
    ap.add_argument("--only", choices=["nlpnb", "spacy"])
    ap.add_argument("--profile", help="write cProfile stats of nlpnb's side to FILE.TASK.train.prof / .pipe.prof")
    ap.add_argument("--side", help=argparse.SUPPRESS)
    bp.add_worker_arguments(ap)
    args = ap.parse_args()
    if args.side:
        run_side(args.side, args.task, args.data, args.out, args.epochs, args.batch_words, args.passes, args.profile)
        return
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    if set(tasks) - {"parser", "ner"}: ap.error("--tasks: choose from parser, ner")
    bp.GROUP["parser"] = args.group
    env = {**os.environ, **{v: "1" for v in bp.THREAD_VARS}}
    sides = [] if args.only == "spacy" else [("nlpnb", sys.executable)]
    if args.only != "nlpnb":
        if Path(args.spacy_python).exists(): sides.append(("spacy", args.spacy_python))
        else: print(f"spaCy interpreter not found at {args.spacy_python}: pass --spacy-python; nlpnb numbers only")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        data_path = Path(tmp) / "data.json"
        data_path.write_text(json.dumps(bp.read_data(tasks, args.n_train, args.n_dev)))
        for task in tasks:
            results[task] = {}
            for lib, python in sides:
                out = Path(tmp) / f"{lib}_{task}.json"
                cmd = [python, str(Path(__file__).resolve()), "--side", lib, "--task", task, "--data", str(data_path),
                       "--out", str(out), "--epochs", str(args.epochs), "--batch-words", str(args.batch_words),
                       "--passes", str(args.passes)]
                if args.profile: cmd += ["--profile", f"{args.profile}.{task}"]
                if subprocess.run(cmd, env=env, cwd=str(ROOT)).returncode == 0:
                    results[task][lib] = json.loads(out.read_text())
                else: print(f"  {lib} {task}: failed; see the traceback above", flush=True)
    rows = [("training, words/CPU-s", "train_cpu_wps"), ("  last epoch only", "last_epoch_cpu_wps"),
            ("inference, words/CPU-s", "infer_cpu_wps"), ("  tok2vec.predict alone", "tok2vec_cpu_wps"),
            ("training, words/s (wall)", "train_wps"), ("inference, words/s (wall)", "infer_wps")]
    for task in tasks:
        ours, theirs = results[task].get("nlpnb"), results[task].get("spacy")
        any_side = ours or theirs
        if not any_side: continue
        print(f"\n{bp.DESCRIPTIONS[task]}: train {any_side['n_train_words']:,} words x {args.epochs} epoch(s), "
              f"inference on {any_side['n_dev_words']:,} dev words (batch_size 1000, best of {args.passes}); 1 thread")
        print(f"{'':30}{'nlpnb':>12}{'spaCy':>12}{'ratio':>8}")
        for name, key in rows:
            x, y = (ours or {}).get(key), (theirs or {}).get(key)
            ratio = f"{x / y:.2f}" if x and y else "-"
            print(f"{name:30}{(f'{x:,.0f}' if x else '-'):>12}{(f'{y:,.0f}' if y else '-'):>12}{ratio:>8}")

if __name__ == "__main__": main()
