"""Token alignment speed: nlpnb's Numba kernel against spaCy's `Alignment.from_strings`, same pairs, same run.

Every UD English EWT train sentence gives one pair: its gold words (x) and a re-tokenization of its `# text`
(y: split on whitespace, then punctuation off words, with one regex). The spaCy half runs this same file in
its own interpreter (`--worker`), so both halves read and re-tokenize the data with the same code.

    python benchmarks/bench_alignment.py [--spacy-python PATH] [--repeat 3] [--cuda]

Prints pairs/sec for nlpnb (per-pair `Alignment.from_strings`, and `align_many` over the whole set in one call),
for spaCy, their ratio, whether the alignments agree pair by pair, and nlpnb's first-call (JIT) latency with a
cold and a warm Numba cache.
"""
import argparse, json, os, re, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EWT = ROOT.parent / "shared" / "data" / "ud_en_ewt" / "en_ewt-ud-train.conllu"
_RETOK = re.compile(r"\w+|[^\w\s]")

def load_pairs(path: Path = EWT):
    "(gold words, re-tokenized text) for every sentence of a CoNLL-U file."
    pairs, text, words = [], None, []
    with open(path, encoding="utf8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("# text = "): text = line[len("# text = "):]
            elif not line:
                if words: pairs.append((words, _RETOK.findall(text)))
                text, words = None, []
            elif line[0].isdigit():
                cols = line.split("\t")
                if cols[0].isdigit(): words.append(cols[1])
    if words: pairs.append((words, _RETOK.findall(text)))
    return pairs

def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter(); fn(); times.append(time.perf_counter() - t)
    return min(times)

def spacy_worker(out_path: str, repeat: int) -> None:
    "Runs under spaCy's interpreter: time Alignment.from_strings over all pairs, save the alignments."
    import numpy as np
    import spacy
    from spacy.training import Alignment
    pairs = load_pairs()
    run = lambda: [Alignment.from_strings(x, y) for x, y in pairs]
    secs = best_of(run, repeat)
    als = run()
    cat = lambda arrs: np.concatenate(arrs) if arrs else np.zeros(0, np.int32)
    np.savez(out_path, x_lengths=cat([a.x2y.lengths for a in als]), x_data=cat([a.x2y.data for a in als]),
             y_lengths=cat([a.y2x.lengths for a in als]), y_data=cat([a.y2x.data for a in als]),
             secs=secs, version=spacy.__version__)

def first_call_latency(cold: bool) -> dict:
    "Import and first `from_strings` call in a fresh interpreter; `cold` uses an empty Numba cache."
    code = ("import time; t0 = time.perf_counter(); from nlpnb.training.alignment import Alignment; "
            "t1 = time.perf_counter(); Alignment.from_strings(['a', 'b'], ['ab']); t2 = time.perf_counter(); "
            "print(t1 - t0, t2 - t1)")
    env = dict(os.environ)
    with tempfile.TemporaryDirectory() as cache:
        if cold: env["NUMBA_CACHE_DIR"] = cache
        out = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    imp, first = map(float, out.stdout.split())
    return {"import_s": imp, "first_call_s": first}

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spacy-python", default=str(ROOT / "benchmarks" / ".venv" / "bin" / "python"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cuda", action="store_true", help="also time align_many_cuda (needs a GPU)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker: return spacy_worker(args.worker, args.repeat)
    if not EWT.exists(): sys.exit(f"missing {EWT}")

    sys.path.insert(0, str(ROOT))   # the checkout's nlpnb, installed or not
    import numpy as np
    from nlpnb.training.alignment import Alignment, align_many
    pairs = load_pairs()
    xs, ys = [x for x, _ in pairs], [y for _, y in pairs]
    n = len(pairs)
    print(f"{n} EWT train pairs, {sum(map(len, xs))} gold tokens, {sum(map(len, ys))} re-tokenized tokens")

    cold, warm = first_call_latency(cold=True), first_call_latency(cold=False)
    print(f"nlpnb first call: {cold['first_call_s'] * 1e3:.0f} ms with an empty Numba cache (compiling), "
          f"{warm['first_call_s'] * 1e3:.1f} ms with a warm cache; import {warm['import_s'] * 1e3:.0f} ms")

    Alignment.from_strings(xs[0], ys[0]); align_many(xs[:2], ys[:2])
    t_pair = best_of(lambda: [Alignment.from_strings(x, y) for x, y in pairs], args.repeat)
    t_batch = best_of(lambda: align_many(xs, ys), args.repeat)
    t_batch_objs = best_of(lambda: list(align_many(xs, ys)), args.repeat)
    results = {"pairs": n, "nlpnb_from_strings_pairs_per_s": n / t_pair, "nlpnb_align_many_pairs_per_s": n / t_batch,
               "nlpnb_align_many_objects_pairs_per_s": n / t_batch_objs, "first_call_cold_s": cold["first_call_s"],
               "first_call_warm_s": warm["first_call_s"]}
    print(f"nlpnb Alignment.from_strings, one pair per call: {n / t_pair:12,.0f} pairs/s")
    print(f"nlpnb align_many, all pairs in one call:        {n / t_batch:12,.0f} pairs/s")
    print(f"nlpnb align_many + an Alignment per pair:       {n / t_batch_objs:12,.0f} pairs/s")

    if args.cuda:
        from nlpnb.training.alignment import align_many_cuda
        align_many_cuda(xs[:2], ys[:2])
        t_cuda = best_of(lambda: align_many_cuda(xs, ys), args.repeat)
        results["nlpnb_align_many_cuda_pairs_per_s"] = n / t_cuda
        print(f"nlpnb align_many_cuda, all pairs in one call:   {n / t_cuda:12,.0f} pairs/s")

    spacy_py = Path(args.spacy_python)
    if not spacy_py.exists(): spacy_py = Path("/work/spacy-venv/bin/python")
    if not spacy_py.exists(): print("no spaCy interpreter: run benchmarks/setup.sh"); return
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "spacy.npz"
        subprocess.run([str(spacy_py), __file__, "--worker", str(out), "--repeat", str(args.repeat)], check=True)
        sp = np.load(out)
        t_spacy, version = float(sp["secs"]), str(sp["version"])
        batch = align_many(xs, ys)
        same = (np.array_equal(sp["x_lengths"], batch.x_lengths) and np.array_equal(sp["x_data"], batch.x_data)
                and np.array_equal(sp["y_lengths"], batch.y_lengths) and np.array_equal(sp["y_data"], batch.y_data))
    results.update(spacy_version=version, spacy_pairs_per_s=n / t_spacy, ratio_from_strings=t_spacy / t_pair,
                   ratio_align_many=t_spacy / t_batch, identical_to_spacy=same)
    print(f"spaCy {version} Alignment.from_strings:          {n / t_spacy:12,.0f} pairs/s")
    print(f"ratio nlpnb/spaCy: {t_spacy / t_pair:.2f}x one pair per call, {t_spacy / t_batch:.2f}x batched")
    print(f"alignments identical to spaCy's on all {n} pairs: {same}")
    print(json.dumps(results))

if __name__ == "__main__":
    main()
