"""Tokenizer speed and agreement, nlpnb against spaCy, on the UD English EWT train+dev text.

    python benchmarks/bench_tokenizer.py [--spacy-python benchmarks/.venv/bin/python] [--repeats 3]

Both sides tokenize the `# text = ...` lines of EWT train+dev with `blank("en")`'s tokenizer, in the same run
and on the same thread count (one). spaCy runs in a subprocess with its own interpreter (`spacy_tokenizer_half.py`),
so nlpnb never imports it. Printed: words per second for a cold pass (empty caches) and the best warm pass, the
nlpnb/spaCy ratio, and the agreement of the two tokenizations on EWT dev (identical sentences, token F1).
"""
import argparse, json, os, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "ud_en_ewt"

def read_texts(path: Path) -> list:
    "The `# text = ` lines of a CoNLL-U file."
    with open(path, encoding="utf8") as f:
        return [line[len("# text = "):].rstrip("\n") for line in f if line.startswith("# text = ")]

def spans(tokens: list) -> set:
    "Character spans of (text, has_space) tokens."
    out, i = set(), 0
    for text, space in tokens:
        out.add((i, i + len(text))); i += len(text) + bool(space)
    return out

def agreement(ours: list, theirs: list) -> dict:
    "Share of identical sentences and token-level F1 over character spans."
    same = sum(a == b for a, b in zip(ours, theirs))
    tp = n_a = n_b = 0
    for a, b in zip(ours, theirs):
        sa, sb = spans(a), spans(b)
        tp += len(sa & sb); n_a += len(sa); n_b += len(sb)
    p, r = tp / max(n_a, 1), tp / max(n_b, 1)
    return {"sentences": len(ours), "identical": same, "f1": 2 * p * r / max(p + r, 1e-12)}

def bench_nlpnb(texts: list, repeats: int) -> dict:
    from nlpnb.language import blank
    t0 = time.perf_counter(); nlp = blank("en"); t_blank = time.perf_counter() - t0
    tok = nlp.tokenizer
    t0 = time.perf_counter(); tok("A first call loads compiled kernels."); t_first = time.perf_counter() - t0
    def run(fn) -> tuple:
        t0 = time.perf_counter(); n = sum(fn(t) for t in texts)
        return n, time.perf_counter() - t0
    n_words, t_cold = run(lambda t: len(tok(t)))
    t_warm = min(run(lambda t: len(tok(t)))[1] for _ in range(repeats))
    t_split = min(run(lambda t: len(tok._words(t)[0]))[1] for _ in range(repeats))
    return {"blank_s": t_blank, "first_s": t_first, "words": n_words, "cold_s": t_cold, "warm_s": t_warm,
            "split_s": t_split, "nlp": nlp}

def bench_spacy(python: str, texts: list, repeats: int, keep_last: int) -> dict:
    with tempfile.TemporaryDirectory() as d:
        src, out = Path(d) / "texts.json", Path(d) / "out.json"
        src.write_text(json.dumps(texts), encoding="utf8")
        half = Path(__file__).with_name("spacy_tokenizer_half.py")
        subprocess.run([python, str(half), str(src), str(out), "--repeats", str(repeats), "--keep-last", str(keep_last)],
                       check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        return json.loads(out.read_text(encoding="utf8"))

LONG = {"emoji": "'\\U0001F600' * n", "brackets": "'(' * n + 'a' + ')' * n"}   # runs of n prefixes and suffixes
SPACY_LONG = """import sys, time, spacy
tok = spacy.blank("en").tokenizer; n = int(sys.argv[2]); text = eval(sys.argv[1])
t0 = time.perf_counter(); k = len(tok(text)); print(time.perf_counter() - t0, k)"""

def bench_long(nlp, python: str, sizes: list, limit: float) -> None:
    "Seconds to tokenize long runs of affixes (once quadratic), nlpnb and spaCy; spaCy is cut off after `limit` s."
    has_spacy = Path(python).exists()
    print(f"long affix runs, seconds (spaCy stopped after {limit:g} s):")
    print(f"{'':24}{'n':>8}{'nlpnb':>10}{'spaCy':>10}{'tokens':>9}")
    for kind, expr in LONG.items():
        slow = not has_spacy
        for n in sizes:
            text = eval(expr, {"n": n})
            t0 = time.perf_counter(); k = len(nlp.tokenizer(text)); ours = time.perf_counter() - t0
            theirs = "-" if not has_spacy else f"> {limit:g}"
            if not slow:
                try:
                    out = subprocess.run([python, "-c", SPACY_LONG, expr, str(n)], capture_output=True, text=True,
                                         timeout=limit + 10, check=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
                    secs, k2 = out.stdout.split(); theirs = f"{float(secs):.3f}"
                    assert int(k2) == k, f"{kind} n={n}: nlpnb {k} tokens, spaCy {k2}"
                    slow = float(secs) > limit
                except subprocess.TimeoutExpired: slow = True
            print(f"{kind:24}{n:>8,}{ours:>10.3f}{theirs:>10}{k:>9,}")

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--spacy-python", default=str(ROOT / "benchmarks" / ".venv" / "bin" / "python"))
    ap.add_argument("--data", default=str(DATA), help="folder holding en_ewt-ud-{train,dev}.conllu")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--long-sizes", default="10000,20000,40000", help="run lengths for the long affix case ('' skips it)")
    ap.add_argument("--long-limit", type=float, default=60, help="stop spaCy's long runs after this many seconds")
    args = ap.parse_args()
    data = Path(args.data)
    train, dev = read_texts(data / "en_ewt-ud-train.conllu"), read_texts(data / "en_ewt-ud-dev.conllu")
    texts = train + dev
    sys.path.insert(0, str(ROOT))
    ours = bench_nlpnb(texts, args.repeats)
    print(f"EWT train+dev: {len(texts):,} texts, {ours['words']:,} nlpnb tokens; best of {args.repeats} warm passes")
    rate = lambda r, k: r["words"] / r[k]
    rows = [("blank('en') seconds", ours["blank_s"], None), ("first call seconds", ours["first_s"], None),
            ("cold pass, words/s", rate(ours, "cold_s"), None),
            ("warm pass, words/s", rate(ours, "warm_s"), None)]
    if not Path(args.spacy_python).exists():
        print(f"spaCy interpreter not found at {args.spacy_python}: pass --spacy-python; nlpnb numbers only")
        theirs = None
    else:
        theirs = bench_spacy(args.spacy_python, texts, args.repeats, len(dev))
        rows = [(name, a, b) for (name, a, _), b in
                zip(rows, [theirs["blank_s"], theirs["first_s"], rate(theirs, "cold_s"), rate(theirs, "warm_s")])]
    print(f"{'':24}{'nlpnb':>14}{'spaCy ' + (theirs or {}).get('version', '-'):>16}{'ratio':>9}")
    for name, a, b in rows:
        fmt = (lambda x: f"{x:,.3f}") if "seconds" in name else (lambda x: f"{x:,.0f}")
        print(f"{name:24}{fmt(a):>14}{fmt(b) if b else '-':>16}{(f'{a / b:.2f}' if b else '-'):>9}")
    print(f"{'split only, words/s':24}{ours['words'] / ours['split_s']:>14,.0f}   (nlpnb without building Docs)")
    print("first call: nlpnb loads its cached Numba string-hash kernel; the cold pass starts with empty caches")
    if theirs:
        tok = ours["nlp"].tokenizer
        mine = [[[t.text, bool(t.whitespace_)] for t in tok(text)] for text in dev]
        a = agreement(mine, theirs["tokens"])
        print(f"agreement on EWT dev: {a['identical']:,}/{a['sentences']:,} sentences identical "
              f"({100 * a['identical'] / a['sentences']:.2f}%), token F1 {100 * a['f1']:.2f}%")
    if args.long_sizes:
        bench_long(ours["nlp"], args.spacy_python, [int(n) for n in args.long_sizes.split(",")], args.long_limit)

if __name__ == "__main__": main()
