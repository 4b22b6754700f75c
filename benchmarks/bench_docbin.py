"""DocBin speed: writing and reading the binary corpus format, nlpnb against spaCy, same docs, same run.

UD English EWT train is read from CoNLL-U once (by nlpnb) and saved as one `.nlpnb` file; spaCy reads that
same file (the formats are byte-compatible), so both sides serialize exactly the same annotated docs.
The spaCy half runs this file in its own interpreter (`--worker`).

    python benchmarks/bench_docbin.py [--spacy-python PATH] [--repeat 3]

Prints seconds and tokens/sec for `DocBin(docs).to_bytes()` (write) and `from_bytes` + `get_docs` (read)
on each side, and the ratio nlpnb / spaCy in tokens/sec (above 1 means nlpnb is faster), by the wall clock and by
the process's CPU time (`write, tokens/CPU-s`): on a shared machine the two sides, run one after the other, can see
different loads, and CPU time is the fairer ratio there.
"""
import argparse, json, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EWT = ROOT.parent / "shared" / "data" / "ud_en_ewt" / "en_ewt-ud-train.conllu"

def best_of(fn, repeat: int, clock=time.perf_counter) -> float:
    times = []
    for _ in range(repeat):
        t = clock(); fn(); times.append(clock() - t)
    return min(times)

def time_docbin(DocBin, docs, make_vocab, repeat: int) -> dict:
    "Best-of-`repeat` seconds to write `docs` to bytes and to read them back into new Docs."
    data = DocBin(docs=docs).to_bytes()
    write = best_of(lambda: DocBin(docs=docs).to_bytes(), repeat)
    read = best_of(lambda: list(DocBin().from_bytes(data).get_docs(make_vocab())), repeat)
    write_cpu = best_of(lambda: DocBin(docs=docs).to_bytes(), repeat, time.process_time)
    read_cpu = best_of(lambda: list(DocBin().from_bytes(data).get_docs(make_vocab())), repeat, time.process_time)
    return {"write": write, "read": read, "write_cpu": write_cpu, "read_cpu": read_cpu,
            "tokens": sum(len(d) for d in docs), "bytes": len(data)}

def spacy_worker(path: str, repeat: int) -> None:
    import spacy
    from spacy.tokens import DocBin
    docs = list(DocBin().from_disk(path).get_docs(spacy.blank("en").vocab))
    out = time_docbin(DocBin, docs, lambda: spacy.blank("en").vocab, repeat)
    print(json.dumps({**out, "version": spacy.__version__}))

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spacy-python", default=None, help="interpreter with spaCy (default: benchmarks/.venv/bin/python)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker: return spacy_worker(args.worker, args.repeat)
    from nlpnb.tokens import DocBin
    from nlpnb.training.converters import read_conllu
    from nlpnb.vocab import Vocab
    vocab = Vocab()
    docs = list(read_conllu(EWT, vocab))
    ours = time_docbin(DocBin, docs, Vocab, args.repeat)
    path = Path(tempfile.mkdtemp()) / "ewt-train.nlpnb"
    DocBin(docs=docs).to_disk(path)
    spacy_python = args.spacy_python or next((str(p) for p in (ROOT / "benchmarks/.venv/bin/python", Path("/work/spacy-venv/bin/python")) if p.exists()), None)
    theirs = None
    if spacy_python:
        res = subprocess.run([spacy_python, __file__, "--worker", str(path), "--repeat", str(args.repeat)], capture_output=True, text=True)
        if res.returncode: sys.exit(f"spaCy half failed:\n{res.stderr}")
        theirs = json.loads(res.stdout.strip().splitlines()[-1])
    n = ours["tokens"]
    print(f"UD EWT train: {len(docs):,} docs, {n:,} tokens; best of {args.repeat}; file {ours['bytes']:,} bytes (nlpnb)")
    print(f"{'':22}{'nlpnb':>12}{'spaCy ' + theirs['version'] if theirs else 'spaCy':>16}{'ratio':>8}")
    for op in ("write", "read", "write_cpu", "read_cpu"):
        mine, name = n / ours[op], op.replace("_cpu", "") + (", tokens/CPU-s" if op.endswith("cpu") else ", tokens/s")
        if theirs: print(f"{name:22}{mine:>12,.0f}{theirs['tokens'] / theirs[op]:>16,.0f}{mine / (theirs['tokens'] / theirs[op]):>8.2f}")
        else: print(f"{name:22}{mine:>12,.0f}")

if __name__ == "__main__":
    main()
