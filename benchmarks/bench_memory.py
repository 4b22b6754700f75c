"""Peak training memory, nlpnb against spaCy: each library's `init config --optimize efficiency` pipeline trained on
the same data, each run in a fresh process, with the resident-memory high-water mark read at each stage.

    python benchmarks/bench_memory.py [--spacy-python benchmarks/.venv/bin/python]
        [--nlpnb-python PATH] [--tasks parser,ner] [--epochs 1] [--n-train 0] [--group 10] [--batch-words 500]

Tasks, data, configs, optimizer, batching and Doc building are `bench_parser.py`'s (imported from it): `parser` is
tok2vec + tagger + parser on UD English EWT train in Docs of `--group` sentences (10, as `convert -n 10` writes them),
`ner` is tok2vec + ner on WikiANN English train. Training is each library's own `nlp.update` loop with dropout 0.1, one
thread; no evaluation, inference or saving happens in the measured process, so the peak is training's.

Per library and task, in MB of resident memory (Linux VmHWM, the high-water mark, which exec resets; a child's
ru_maxrss would start at its parent's):
- `import` (idle): a process that only imports the library (`import nlpnb` / `import spacy`): the fixed cost;
- `+ data`: after reading the task's rows (words, spaces, annotations) from JSON, the same for both;
- `+ pipeline`: after also building the pipeline from its config;
- `+ examples`: after building the training Examples (the corpus held in memory);
- `+ initialize`: after `nlp.initialize`;
- `peak (training)`: after the last epoch, the number the goal is about (at most 0.8x spaCy's);
- `training - import`: the peak less the idle import, what training itself adds;
- `at end: anonymous` / `at end: file pages`: the resident memory right after the last epoch (VmRSS, where the peak
  usually is) split into the process's own memory (RssAnon: heap, arrays) and pages of mapped files (RssFile: shared
  libraries such as llvmlite's, which the kernel can drop and read back; nlpnb drops llvmlite's after loading its
  cached kernels, see `nlpnb.warm.release_llvm_pages`).
Each row prints nlpnb / spaCy. `--nlpnb-python` runs the nlpnb side in another interpreter (e.g. a venv with the transformers extra,
where thinc imports torch), to measure what an installed torch costs. Printed; written to
benchmarks/results/bench_memory.json.
"""
import argparse, json, os, random, subprocess, sys, tempfile, time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bench_parser as bp  # noqa: E402

STAGES = ("import", "data", "pipeline", "examples", "initialize", "peak")

def vm(field: str = "VmHWM") -> float:
    "This process's `field` (VmHWM: peak resident memory; VmRSS: now) from /proc/self/status, in MB."
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"): return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")

def idle_side(lib: str, out_path: str) -> None:
    "Import the library only."
    t0 = time.process_time()
    __import__(lib)
    Path(out_path).write_text(json.dumps({"import": vm(), "import_cpu_s": time.process_time() - t0,
                                          "torch": "torch" in sys.modules}))

def train_side(lib: str, task: str, data_path: str, out_path: str, epochs: int, batch_words: int) -> None:
    "Build, initialize and train one task's pipeline; VmHWM after each stage."
    marks = {}
    _, make_config, from_config, Doc, Example, _, version = bp._library(lib)
    from thinc.api import Adam, fix_random_seed
    marks["import"] = vm()
    data = json.loads(Path(data_path).read_text())[task]
    marks["data"] = vm()
    fix_random_seed(0)
    config = make_config(bp.PIPELINES[task])
    bp.align_config(config, task)
    nlp = from_config(config)
    marks["pipeline"] = vm()
    train = [Example(bp.make_doc(Doc, nlp.vocab, task, r, False), bp.make_doc(Doc, nlp.vocab, task, r, True))
             for r in data["train"]]
    del data["dev"]
    lengths = [len(r[0]) for r in data["train"]]
    marks["examples"] = vm()
    opt = Adam(**bp.ADAM)
    nlp.initialize(lambda: train, sgd=opt)
    marks["initialize"] = vm()
    order, c0 = list(range(len(train))), time.process_time()
    for epoch in range(epochs):
        random.Random(epoch).shuffle(order)
        losses = {}
        for batch_ids in bp.word_batches(order, lengths, batch_words):
            nlp.update([train[j] for j in batch_ids], drop=0.1, sgd=opt, losses=losses)
    marks["peak"] = vm()
    marks["end_anon"], marks["end_file"] = vm("RssAnon"), vm("RssFile")
    Path(out_path).write_text(json.dumps({**marks, "version": version, "train_cpu_s": time.process_time() - c0,
                                          "n_train_docs": len(train), "n_train_words": sum(lengths),
                                          "torch": "torch" in sys.modules}))

def run(python: str, args: list, threads: int = 1) -> dict:
    env = {**os.environ, **{v: str(threads) for v in bp.THREAD_VARS}}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        res = subprocess.run([python, __file__, *args, "--out", str(out)], env=env, capture_output=True, text=True)
        if res.returncode: sys.exit(f"{' '.join(args[:4])} failed:\n{res.stderr[-3000:]}")
        return json.loads(out.read_text())

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spacy-python", default=str(HERE / ".venv" / "bin" / "python"))
    ap.add_argument("--nlpnb-python", default=sys.executable)
    ap.add_argument("--tasks", default="parser,ner")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--n-train", type=int, default=0, help="the first N training sentences of each corpus (0: all)")
    ap.add_argument("--group", type=int, default=10, help="EWT sentences per Doc for the parser task")
    ap.add_argument("--batch-words", type=int, default=500)
    ap.add_argument("--only", choices=["nlpnb", "spacy"])
    ap.add_argument("--side", help=argparse.SUPPRESS)
    ap.add_argument("--idle", help=argparse.SUPPRESS)
    bp.add_worker_arguments(ap)
    args = ap.parse_args()
    if args.idle: return idle_side(args.idle, args.out)
    if args.side: return train_side(args.side, args.task, args.data, args.out, args.epochs, args.batch_words)
    tasks = args.tasks.split(",")
    bp.GROUP["parser"] = args.group
    sides = [s for s in ("nlpnb", "spacy") if args.only in (None, s)]
    pythons = {"nlpnb": args.nlpnb_python, "spacy": args.spacy_python}
    with tempfile.TemporaryDirectory() as tmp:
        data_path = Path(tmp) / "data.json"
        data_path.write_text(json.dumps(bp.read_data(tasks, args.n_train, 1)))
        results = {lib: {"idle": run(pythons[lib], ["--idle", lib])} for lib in sides}
        for task in tasks:
            for lib in sides:
                print(f"  training {lib} {task} ...", flush=True)
                results[lib][task] = run(pythons[lib], ["--side", lib, "--task", task, "--data", str(data_path),
                                                        "--epochs", str(args.epochs), "--batch-words", str(args.batch_words)])
    ours, theirs = results.get("nlpnb"), results.get("spacy")
    def row(name, a, b):
        ratio = f"{a / b:8.2f}" if a is not None and b else ""
        fmt = lambda x: "-" if x is None else f"{x:,.0f}"
        print(f"{name:26}{fmt(a):>10}{fmt(b):>10}{ratio}")
    get = lambda res, *keys: None if res is None else res[keys[0]][keys[1]]
    print(f"\npeak resident memory, MB (VmHWM), {args.epochs} epoch(s), 1 thread; ratio nlpnb / spaCy"
          f" (nlpnb with torch imported: {get(ours, 'idle', 'torch')})")
    print(f"{'':26}{'nlpnb':>10}{'spaCy':>10}{'ratio':>8}")
    row("idle import", get(ours, "idle", "import"), get(theirs, "idle", "import"))
    for task in tasks:
        any_side = (ours or theirs)[task]
        print(f"{task}: {any_side['n_train_docs']:,} docs, {any_side['n_train_words']:,} words")
        for stage in STAGES: row(f"  {'+ ' if stage not in ('import', 'peak') else ''}{stage}", get(ours, task, stage), get(theirs, task, stage))
        own = lambda res: None if res is None else res[task]["peak"] - res["idle"]["import"]
        row("  training - import", own(ours), own(theirs))
        row("  at end: anonymous", get(ours, task, "end_anon"), get(theirs, task, "end_anon"))
        row("  at end: file pages", get(ours, task, "end_file"), get(theirs, task, "end_file"))
    if ours and theirs:
        out = HERE / "results" / "bench_memory.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps({"args": vars(args), **results}, indent=1))

if __name__ == "__main__":
    main()
