"""Static vectors: `init vectors` time and peak memory, and `Vectors.most_similar` speed, nlpnb against spaCy.

A random text vectors file (word2vec text format with a header; 100,000 x 300 by default, ~250 MB) is written once
(cached in the temp folder). Each side reads it into a blank English pipeline and saves it, in a fresh process,
so the peak resident memory (VmHWM) is that of the whole command; the time is that of the library call
(nlpnb `init_vectors`, spaCy `convert_vectors` + `nlp.to_disk`, what their `init vectors` commands run).
Then each side loads its own saved table and ranks the 10 most similar rows of every row of a batch of queries
(`most_similar(queries, n=10, batch_size=1024)`, exact cosine).
The spaCy half runs this file in spaCy's interpreter (`--worker`).

    python benchmarks/bench_vectors.py [--rows 100000] [--dim 300] [--queries 4096] [--spacy-python PATH]
"""
import argparse, json, subprocess, sys, tempfile, time
from pathlib import Path
import numpy as np

ROOT = Path(__file__).resolve().parents[1]

def write_vectors_file(path: Path, rows: int, dim: int) -> None:
    "Random vectors for made-up words, 4 decimals, in word2vec text format with a `ROWS DIM` header."
    rng = np.random.default_rng(0)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    tmp = path.with_suffix(".part")
    with tmp.open("w", encoding="utf8") as f:
        f.write(f"{rows} {dim}\n")
        for start in range(0, rows, 5000):
            block = rng.normal(size=(min(5000, rows - start), dim)).astype("float32")
            words = ["".join(rng.choice(letters, 3 + i % 9)) + str(start + i) for i in range(len(block))]
            f.write("".join(w + " " + " ".join(f"{x:.4f}" for x in row.tolist()) + "\n" for w, row in zip(words, block)))
    tmp.rename(path)

def vm_hwm_mb() -> float:
    "Peak resident memory of this process so far, in MB (VmHWM)."
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"): return int(line.split()[1]) / 1024
    return float("nan")

def time_most_similar(vectors, queries: np.ndarray, repeat: int = 3) -> float:
    "Best-of-`repeat` queries per second of `most_similar(queries, n=10)`."
    best = float("inf")
    for _ in range(repeat):
        q = queries.copy()   # spaCy normalises its queries in place
        t = time.perf_counter(); vectors.most_similar(q, n=10, batch_size=1024); best = min(best, time.perf_counter() - t)
    return len(queries) / best

def worker(side: str, task: str, src: str, out: str, n_queries: int) -> None:
    "One measurement in this fresh process, printed as JSON."
    if task == "init":
        t = time.perf_counter()
        if side == "nlpnb":
            from nlpnb.init_vectors import init_vectors
            init_vectors("en", src, out, progress=False)
        else:
            import spacy
            from spacy.training.initialize import convert_vectors
            nlp = spacy.blank("en"); convert_vectors(nlp, src, truncate=0, prune=-1); nlp.to_disk(out)
        print(json.dumps({"seconds": time.perf_counter() - t, "peak_mb": vm_hwm_mb()}))
        return
    if side == "nlpnb":
        import nlpnb; vectors = nlpnb.load(out).vocab.vectors
    else:
        import spacy; vectors = spacy.load(out).vocab.vectors
    queries = np.asarray(vectors.data[:n_queries], dtype="float32")
    print(json.dumps({"queries_per_s": time_most_similar(vectors, queries)}))

def run(python: str, *args) -> dict:
    res = subprocess.run([python, __file__, "--worker", *map(str, args)], capture_output=True, text=True)
    if res.returncode: sys.exit(f"{python} {' '.join(map(str, args))} failed:\n{res.stderr[-3000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--dim", type=int, default=300)
    ap.add_argument("--queries", type=int, default=4096)
    ap.add_argument("--spacy-python", default=None, help="interpreter with spaCy (default: benchmarks/.venv/bin/python)")
    ap.add_argument("--worker", nargs=5, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker: return worker(*args.worker[:4], int(args.worker[4]))
    tmp = Path(tempfile.gettempdir())
    src = tmp / f"nlpnb_bench_vectors_{args.rows}x{args.dim}.txt"
    if not src.exists(): write_vectors_file(src, args.rows, args.dim)
    default_spacy = ROOT / "benchmarks/.venv/bin/python"
    spacy_python = args.spacy_python or (str(default_spacy) if default_spacy.exists() else None)
    sides = [("nlpnb", sys.executable)] + ([("spacy", spacy_python)] if spacy_python else [])
    results = {}
    for side, python in sides:
        out = Path(tempfile.mkdtemp()) / side
        results[side] = {**run(python, side, "init", src, out, args.queries), **run(python, side, "similar", src, out, args.queries)}
    print(f"{args.rows:,} x {args.dim} text vectors ({src.stat().st_size / 1e6:.0f} MB); most_similar: {args.queries:,} queries, n=10, batch 1024")
    print(f"{'':8} {'init s':>8} {'peak MB':>8} {'queries/s':>10}")
    for side, r in results.items(): print(f"{side:8} {r['seconds']:8.2f} {r['peak_mb']:8.0f} {r['queries_per_s']:10,.0f}")
    if "spacy" in results:
        a, b = results["nlpnb"], results["spacy"]
        print(f"ratio nlpnb/spaCy: init time {a['seconds'] / b['seconds']:.2f}x, peak memory {a['peak_mb'] / b['peak_mb']:.2f}x, "
              f"most_similar speed {a['queries_per_s'] / b['queries_per_s']:.2f}x")

if __name__ == "__main__": main()
