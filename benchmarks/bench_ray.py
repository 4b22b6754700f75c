"""`nlpnb train` against `nlpnb ray train --n-workers 1` and `--n-workers 2`: tagger+parser on UD English EWT.

    python benchmarks/bench_ray.py [--n-train 4000] [--n-dev 500] [--epochs 2] [--workers 1 2]

Needs the ray extra (pip install -e ".[ray]"). A long run (minutes; not a test). All runs train the config of
`nlpnb init config --pipeline tagger,parser` (tok2vec width 96, the default) on the first `--n-train` EWT train
sentences for `--epochs` epochs (max_steps 0), evaluating on the first `--n-dev` dev sentences every 200 steps, with
`--threads` threads per process (OMP/MKL/OPENBLAS/NUMBA; Ray gives its workers OMP_NUM_THREADS=1 anyway). Each run
is its own process (a fresh local Ray for the Ray runs, one CPU per worker). Printed per run: training words per
second (the words all workers processed over the seconds of the training loop, evaluations and saves included:
`train(...)`'s time for `nlpnb train`, from the workers' start to their end for Ray), the wall time of the whole
process (imports, initialization on every worker, Ray's start), steps, stale gradients, and the final dev scores of
model-last (`Language.evaluate`), and words per CPU-second (the CPU time of the training processes: on a machine
other jobs share, a run of several processes gets a larger share of the CPU, so wall-clock words/s alone flatters
Ray). Then a calculation from the pipeline's parameter sizes: floats each worker sends
(and receives) per step with the owner design (`--broadcast update`, the default, and `--broadcast step`), against
ring all-reduce, for 2, 8 and 32 workers, and the bandwidth each needs for communication to hide behind the
measured compute time of one step.

spaCy has no maintained counterpart (spacy-ray is pinned to ray < 1.0 and spaCy 3.1), so there is no spaCy ratio
here; the single-process `nlpnb train` is the baseline. Results: benchmarks/results/bench_ray.json.
"""
import argparse, itertools, json, os, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "ud_en_ewt"
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")

def prepare(d: Path, n_train: int, n_dev: int) -> None:
    from nlpnb.init_config import init_config
    from nlpnb.tokens import DocBin
    from nlpnb.training.converters import read_conllu
    from nlpnb.vocab import Vocab
    for split, n in [("train", n_train), ("dev", n_dev)]:
        docs = read_conllu(DATA / f"en_ewt-ud-{split}.conllu", Vocab())
        DocBin(docs=list(itertools.islice(docs, n) if n else docs)).to_disk(d / f"{split}.nlpnb")
    init_config("en", ["tagger", "parser"]).to_disk(d / "config.cfg")

def overrides(d: Path, epochs: int) -> dict:
    return {"paths.train": str(d / "train.nlpnb"), "paths.dev": str(d / "dev.nlpnb"), "training.max_epochs": epochs,
            "training.max_steps": 0, "training.eval_frequency": 200, "training.patience": 0}

def one_run(d: Path, epochs: int, spec: str, out: Path) -> dict:
    "One run in this process: '0' is `nlpnb train`'s loop, 'N' or 'N:step' `nlpnb.ray.train` with N workers."
    workers, _, broadcast = spec.partition(":")
    workers = int(workers)
    from nlpnb.cli.train import evaluate_pipeline
    from nlpnb.config import load_config
    config, records, result = load_config(d / "config.cfg", overrides(d, epochs)), [], {}
    with open(os.devnull, "w") as quiet:
        if workers == 0:
            from nlpnb.tokens import DocBin
            from nlpnb.training.loop import init_nlp, train
            from nlpnb.vocab import Vocab
            nlp, steps = init_nlp(config), [0]
            def count_step() -> bool: steps[0] += 1; return False     # called once per step by the loop
            start, cpu = time.perf_counter(), time.process_time()
            train(nlp, out, records=records, stdout=quiet, should_stop=count_step)
            seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
            words = epochs * sum(len(doc) for doc in DocBin().from_disk(d / "train.nlpnb").get_docs(Vocab()))
        else:
            import nlpnb.ray
            result = nlpnb.ray.train(config, out, n_workers=workers, records=records, stdout=quiet, broadcast=broadcast or "update")
            steps, words, seconds = [w["steps"] for w in result["workers"]], result["words"], result["seconds"]
            cpu_seconds = sum(w["cpu_seconds"] for w in result["workers"])
    scores = evaluate_pipeline(str(out / "model-last"), str(d / "dev.nlpnb"))
    return {"words": words, "seconds": seconds, "words_per_second": words / seconds, "cpu_seconds": cpu_seconds,
            "words_per_cpu_second": words / cpu_seconds, "evaluations": len(records),
            "steps": steps,
            "stale": result.get("stale", 0), "grads_sent": result.get("grads_sent", 0), "max_lag": result.get("max_lag", 0),
            **{k: scores[k] for k in ("tag_acc", "dep_uas", "dep_las")}}

def param_sizes(d: Path) -> list:
    from nlpnb.config import load_config
    from nlpnb.ray import param_table
    from nlpnb.training.loop import init_nlp
    nlp = init_nlp(load_config(d / "config.cfg", overrides(d, 1)))
    return [int(node.get_param(key[1]).size) for key, _, node in param_table(nlp)]

def communication(P: int, n: int) -> dict:
    "Floats one worker sends (= receives, by symmetry) per step of every worker, for P parameters and n workers."
    grads = P * (n - 1) / n                    # gradients of the parameters it does not own, to their owners
    return {"owner_immediate": grads + P * (n - 1),   # as built: an owner broadcasts after each of the n updates
            "owner_per_step": grads + P * (n - 1) / n,  # one broadcast per owner step (the updates coalesced)
            "ring_allreduce": 2 * P * (n - 1) / n}

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-train", type=int, default=4000, help="EWT train sentences (0: all 12,544)")
    ap.add_argument("--n-dev", type=int, default=500, help="EWT dev sentences (0: all 2,001)")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--workers", nargs="+", default=["1", "2", "2:step"], help="N (Ray workers) or N:step (--broadcast step)")
    ap.add_argument("--threads", type=int, default=1, help="threads per process (Ray's workers get OMP_NUM_THREADS=1 anyway)")
    ap.add_argument("--table", action="store_true", help="only print the communication table of the last results")
    ap.add_argument("--one", nargs=3, metavar=("DIR", "WORKERS", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one_run(Path(args.one[0]), args.epochs, args.one[1], Path(args.one[2])))); return
    if args.table:
        communication_table(json.loads((ROOT / "benchmarks" / "results" / "bench_ray.json").read_text())); return
    if not DATA.exists(): sys.exit(f"EWT not found at {DATA}")
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp); prepare(d, args.n_train, args.n_dev)
        runs = {}
        for workers in ["0"] + args.workers:
            n, _, mode = workers.partition(":")
            name = "nlpnb train" if workers == "0" else f"nlpnb ray train --n-workers {n}" + (f" --broadcast {mode}" if mode else "")
            start = time.perf_counter()
            res = subprocess.run([sys.executable, __file__, "--epochs", str(args.epochs), "--one", str(d), str(workers),
                                  str(d / f"out{workers.replace(':', '_')}")], capture_output=True, text=True,
                                 env={**os.environ, **{v: str(args.threads) for v in THREAD_VARS}})
            if res.returncode != 0: sys.exit(f"{name} failed:\n{res.stderr[-3000:]}")
            runs[name] = {**json.loads(res.stdout.strip().splitlines()[-1]), "wall_seconds": time.perf_counter() - start}
            r = runs[name]
            print(f"{name:<48} {r['words_per_second']:>8,.0f} words/s ({r['words']:,} words in {r['seconds']:.1f} s; "
                  f"{r['words_per_cpu_second']:,.0f} per CPU-second of the training processes); "
                  f"wall {r['wall_seconds']:.0f} s; steps {r['steps']}; stale {r['stale']}; "
                  f"TAG {100 * r['tag_acc']:.2f} UAS {100 * r['dep_uas']:.2f} LAS {100 * r['dep_las']:.2f}", flush=True)
        base = runs["nlpnb train"]["words_per_second"]
        cpu_base = runs["nlpnb train"]["words_per_cpu_second"]
        for name, r in runs.items():
            print(f"  {name}: {r['words_per_second'] / base:.2f}x the words/s, {r['words_per_cpu_second'] / cpu_base:.2f}x "
                  "the words per CPU-second of nlpnb train")
        sizes = param_sizes(d)
    single = runs["nlpnb train"]
    step_seconds = single["cpu_seconds"] / single["steps"][0]   # CPU time: what a step takes on a core of its own
    result = {"args": vars(args), "runs": runs, "param_floats": sum(sizes), "param_arrays": len(sizes),
              "largest_array": max(sizes), "step_seconds": step_seconds}
    result["communication"] = communication_table(result)
    out = ROOT / "benchmarks" / "results"; out.mkdir(exist_ok=True)
    (out / "bench_ray.json").write_text(json.dumps(result, indent=2))

def communication_table(result: dict) -> dict:
    "Print (and return) the floats per worker per step for 2, 8, 32 workers, and the bandwidth that hides them."
    P, step_seconds = result["param_floats"], result["step_seconds"]
    print(f"\nParameters: {result['param_arrays']} arrays, {P:,} floats ({4 * P / 2**20:.1f} MiB); largest "
          f"{result['largest_array']:,} floats; one step of nlpnb train: {step_seconds * 1000:.0f} ms of CPU")
    comm = {}
    for n in (2, 8, 32):
        comm[n] = c = communication(P, n)
        mib = {k: 4 * v / 2**20 for k, v in c.items()}
        print(f"  {n:>2} workers, MiB out (= in) per worker per step, and MiB/s to hide it behind a step: "
              + "; ".join(f"{k} {mib[k]:.1f} ({mib[k] / step_seconds:,.0f} MiB/s)" for k in c))
    return comm

if __name__ == "__main__":
    main()
