"""spaCy's half of `bench_tokenizer.py`, run in spaCy's own interpreter so that nlpnb never imports spaCy.

    python spacy_tokenizer_half.py TEXTS.json OUT.json [--repeats 3] [--keep-last N]

Reads a JSON list of texts, times `spacy.blank("en")` and its tokenizer over them (one cold pass, then the best
of `--repeats` warm passes), and writes the timings and the tokens of the last N texts (for agreement) to OUT.json.
"""
import argparse, json, time

def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("texts"); ap.add_argument("out")
    ap.add_argument("--repeats", type=int, default=3); ap.add_argument("--keep-last", type=int, default=0)
    args = ap.parse_args()
    with open(args.texts, encoding="utf8") as f: texts = json.load(f)
    import spacy
    t0 = time.perf_counter(); nlp = spacy.blank("en"); t_blank = time.perf_counter() - t0
    tok = nlp.tokenizer
    t0 = time.perf_counter(); tok("A first call loads compiled kernels."); t_first = time.perf_counter() - t0
    def run() -> tuple:
        t0 = time.perf_counter(); n = sum(len(tok(t)) for t in texts)
        return n, time.perf_counter() - t0
    n_words, t_cold = run()
    t_warm = min(run()[1] for _ in range(args.repeats))
    kept = texts[len(texts) - args.keep_last:] if args.keep_last else []
    tokens = [[[t.text, bool(t.whitespace_)] for t in tok(text)] for text in kept]
    out = {"version": spacy.__version__, "blank_s": t_blank, "first_s": t_first, "words": n_words, "cold_s": t_cold, "warm_s": t_warm,
           "tokens": tokens}
    with open(args.out, "w", encoding="utf8") as f: json.dump(out, f)

if __name__ == "__main__": main()
