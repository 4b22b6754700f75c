"""`nlp.pipe(texts, n_process=N)`: inference words per second with 1 and N worker processes, nlpnb against spaCy.

    .venv/bin/python benchmarks/bench_n_process.py [--spacy-python benchmarks/.venv/bin/python] [--n-process 2]
        [--batch-size 128] [--n-texts 2000]

Both sides build the same tagger as benchmarks/bench_tagger.py (a softmax over a HashEmbedCNN of width 96, depth 4),
initialize it on 500 EWT train sentences (speed only: the weights are untrained), and run `nlp.pipe` over the first
`--n-texts` EWT dev texts (raw text, so tokenization is included) with `n_process=1` and `n_process=N`, best of 2 runs
each, one BLAS/Numba thread per process. Printed: words per second for each, the speed-up N vs 1, the time to the first
Doc with N processes (worker start-up), the CPU time per 1,000 words of all processes together (what the work costs,
whatever else the machine runs: with N workers it includes moving Docs between processes), and the ratio nlpnb / spaCy
of each, measured in the same run.
"""
import argparse, json, os, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "ud_en_ewt"
sys.path.insert(0, str(Path(__file__).parent))
from bench_tagger import THREAD_VARS, model_block  # noqa: E402  (the same network as the tagger benchmark)

def prepare(path: Path, n_texts: int) -> None:
    "Read the data once, with nlpnb's reader, for both sides: 500 tagged train sentences and the dev texts."
    import nlpnb
    from nlpnb.training.converters import read_conllu
    blocks = (DATA / "en_ewt-ud-train.conllu").read_text(encoding="utf8").split("\n\n")[:500]
    tmp = path.with_suffix(".conllu"); tmp.write_text("\n\n".join(blocks) + "\n\n", encoding="utf8")
    train = [[[t.text for t in d], [t.tag_ for t in d]] for d in read_conllu(tmp, nlpnb.blank("en").vocab, n_sents=1)]
    dev = [l[len("# text = "):] for l in (DATA / "en_ewt-ud-dev.conllu").read_text(encoding="utf8").splitlines()
           if l.startswith("# text = ")][:n_texts]
    path.write_text(json.dumps({"train": train, "dev": dev}))

def cpu_seconds() -> float:
    "CPU time of this process and its finished children (the workers, reaped when the pool shuts down)."
    import resource
    return sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)))

def run_side(lib: str, data_path: str, n_process: int, batch_size: int) -> dict:
    if lib == "nlpnb":
        import nlpnb as L
        from nlpnb.tokens import Doc
        from nlpnb.training.example import Example
        make = lambda nlp, w, t=None: Doc(nlp.vocab, w, tags=t)
    else:
        import spacy as L
        from spacy.tokens import Doc
        from spacy.training import Example
        make = lambda nlp, w, t=None: Doc(nlp.vocab, words=w, tags=t)
    data = json.loads(Path(data_path).read_text())
    nlp = L.blank("en")
    nlp.add_pipe("tagger", config={"model": model_block(lib)})
    egs = [Example(make(nlp, w), make(nlp, w, t)) for w, t in data["train"]]
    nlp.initialize(lambda: egs)
    out = {"lib": lib, "n_words": None}
    for n in (1, n_process):
        best, first, cpu = None, None, None
        for _ in range(2):
            c0 = cpu_seconds(); t0 = time.perf_counter(); n_words = 0
            for i, doc in enumerate(nlp.pipe(data["dev"], batch_size=batch_size, n_process=n)):
                if i == 0 and first is None: first = time.perf_counter() - t0
                n_words += len(doc)
            dt, dc = time.perf_counter() - t0, cpu_seconds() - c0
            best, cpu = (dt, dc) if best is None or dt < best else (best, cpu)
        out[f"wps_{n}"], out[f"first_doc_s_{n}"], out["n_words"] = n_words / best, first, n_words
        out[f"cpu_ms_per_1k_words_{n}"] = 1000 * cpu / n_words * 1000
    return out

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spacy-python", default=str(ROOT / "benchmarks" / ".venv" / "bin" / "python"))
    ap.add_argument("--n-process", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--n-texts", type=int, default=2000)
    ap.add_argument("--side", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--data", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.side:
        print(json.dumps(run_side(args.side, args.data, args.n_process, args.batch_size))); return
    import tempfile
    data = Path(tempfile.mkdtemp()) / "data.json"
    prepare(data, args.n_texts)
    env = {**os.environ, **{v: "1" for v in THREAD_VARS}, "PYTHONPATH": str(ROOT)}
    results = {}
    for lib, py in (("nlpnb", sys.executable), ("spacy", args.spacy_python)):
        if lib == "spacy" and not Path(py).exists(): print(f"spaCy interpreter not found at {py}: nlpnb only"); continue
        cmd = [py, __file__, "--side", lib, "--n-process", str(args.n_process), "--batch-size", str(args.batch_size), "--data", str(data)]
        res = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if res.returncode: print(res.stderr[-3000:]); sys.exit(1)
        results[lib] = json.loads(res.stdout.strip().splitlines()[-1])
    n = args.n_process
    for lib, r in results.items():
        print(f"{lib:6} {r['n_words']:,} words: n_process=1 {r['wps_1']:,.0f} w/s; n_process={n} {r[f'wps_{n}']:,.0f} w/s "
              f"(x{r[f'wps_{n}'] / r['wps_1']:.2f}); first Doc after {r[f'first_doc_s_{n}']:.2f} s with {n} processes; CPU ms per 1k words "
              f"{r['cpu_ms_per_1k_words_1']:.0f} (1) and {r[f'cpu_ms_per_1k_words_{n}']:.0f} ({n})")
    if len(results) == 2:
        a, b = results["nlpnb"], results["spacy"]
        print(f"ratio nlpnb/spaCy: n_process=1 {a['wps_1'] / b['wps_1']:.2f}, n_process={n} {a[f'wps_{n}'] / b[f'wps_{n}']:.2f}")

if __name__ == "__main__": main()
