"""Rule-based components, nlpnb against spaCy 3.8 on the same Docs in the same run: words per second for

- `Matcher`: 21 token patterns (quantifiers, predicates, greedy keys) over UD English EWT dev (gold POS/TAG/...);
- `PhraseMatcher(attr="LOWER")`: the 3,000 most frequent 1-3-grams of EWT dev;
- `entity_ruler`: phrase patterns of every WikiANN train entity (majority label) over WikiANN dev, plus the time
  `add_patterns` takes and the entity scores;
- `sentencizer` on EWT dev Docs (already tokenized), with sents_f;
- `lemmatizer` in lookup and rule mode, tables built from EWT train, gold POS and morphology, with lemma_acc;

and nlpnb's first-call latency (Numba JIT) for the matchers, with a cold and a warm cache.

    python benchmarks/bench_rules.py [--spacy-python PATH] [--repeat 3] [--threads 1]

The spaCy half runs this file in its own interpreter (`--worker DIR`) on DocBins and JSON written by the nlpnb half.
"""
import argparse, json, os, subprocess, sys, tempfile, time, warnings
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
EWT_TRAIN, EWT_DEV = DATA / "ud_en_ewt" / "en_ewt-ud-train.conllu", DATA / "ud_en_ewt" / "en_ewt-ud-dev.conllu"
WIKI_TRAIN, WIKI_DEV = DATA / "wikiann_en" / "train.iob", DATA / "wikiann_en" / "dev.iob"

PATTERNS = {
    "DET_NP": [[{"LOWER": "the"}, {"POS": "ADJ", "OP": "*"}, {"POS": "NOUN", "OP": "+"}]],
    "PROPNS": [[{"POS": "PROPN", "OP": "+"}]],
    "PASSIVE": [[{"LEMMA": "be"}, {"POS": "ADV", "OP": "?"}, {"TAG": "VBN"}]],
    "TIME": [[{"IS_DIGIT": True}, {"LOWER": {"IN": ["am", "pm", "%"]}}]],
    "NUM_NOPUNCT": [[{"LIKE_NUM": True}, {"IS_PUNCT": True, "OP": "!"}]],
    "ING": [[{"ORTH": {"REGEX": "^[A-Z][a-z]+ing$"}}]],
    "LONG": [[{"LENGTH": {">=": 12}}]],
    "VERB_NOUN": [[{"POS": "VERB"}, {"POS": {"NOT_IN": ["PUNCT", "NOUN"]}, "OP": "{1,2}"}, {"POS": "NOUN"}]],
    "PLUR_PRON": [[{"MORPH": {"IS_SUPERSET": ["Number=Plur"]}, "POS": "PRON"}]],
    "TITLES": [[{"SHAPE": "Xxxxx"}, {"IS_SENT_START": False, "IS_TITLE": True, "OP": "*"}]],
    "SUBJ_ROOT": [[{"DEP": "nsubj"}, {"OP": "?"}, {"DEP": "ROOT"}]],
    "END": [[{"TEXT": {"REGEX": "^[.!?]$"}}, {"ORTH": {"IN": ["\"", "'", ")"]}, "OP": "?"}]],
    "NP_LONG": [[{"POS": {"IN": ["ADJ", "NOUN", "PROPN"]}, "OP": "+"}]],
    "ALPHA_FIRST": [[{"IS_ALPHA": True, "OP": "{2,3}"}]],
    "NOT": [[{"NORM": "not"}], [{"LOWER": "n't"}]],
    "VBZ": [[{"MORPH": "Mood=Ind|Number=Sing|Person=3|Tense=Pres|VerbForm=Fin"}]],
    "STARTS": [[{"IS_SENT_START": True}, {"POS": "PRON"}]],
    "SUBSET": [[{"MORPH": {"IS_SUBSET": ["Number=Sing", "Definite=Def", "PronType=Art"]}, "POS": "DET"},
                {"LOWER": {"REGEX": "^[aeiou]"}, "OP": "+"}]],
    "NEG_START": [[{"POS": "DET", "OP": "!"}, {"POS": "NOUN"}, {"POS": "NOUN", "OP": "?"}]],
    "SENT_START_INT": [[{"SENT_START": True}, {"IS_PUNCT": False, "OP": "{,2}"}]],
    "INTERSECT": [[{"TAG": {"INTERSECTS": ["NN", "NNS"]}}, {"LENGTH": {"<": 3}, "OP": "*"}, {"TAG": "IN"}]],
}
GREEDY = {"NP_LONG": "LONGEST", "ALPHA_FIRST": "FIRST"}


def best_of(fn, repeat: int, setup=None) -> float:
    "The fastest of `repeat` timed calls of `fn(setup())`."
    times = []
    for _ in range(repeat):
        arg = setup() if setup else None
        t = time.perf_counter(); fn(arg); times.append(time.perf_counter() - t)
    return min(times)


# -- inputs, built by the nlpnb half ----------------------------------------------------------------------------

def build_inputs(nlp):
    from nlpnb.pipeline.lemmatizer import Lemmatizer
    from nlpnb.tokens import Doc
    from nlpnb.training.converters import read_conllu, read_iob
    ewt = list(read_conllu(EWT_DEV, nlp.vocab, n_sents=10, keep=False))
    cnt = Counter()
    for d in ewt:
        w = [x.lower() for x in d.words]
        for k in (1, 2, 3):
            for i in range(len(w) - k + 1): cnt[" ".join(w[i:i + k])] += 1
    phrases = {f"P{i}": [] for i in range(7)}
    for i, (p, _) in enumerate(cnt.most_common(3000)): phrases[f"P{i % 7}"].append(p)
    labels = defaultdict(Counter)
    for d in read_iob(WIKI_TRAIN, nlp.vocab):
        for e in d.ents: labels[e.text][e.label_] += 1
    ruler_patterns = [{"label": c.most_common(1)[0][0], "pattern": t} for t, c in labels.items()
                      if c.most_common(1)[0][1] / sum(c.values()) >= 0.5]
    wiki = list(read_iob(WIKI_DEV, nlp.vocab))
    forms, by_pos = defaultdict(Counter), defaultdict(Counter)
    for d in read_conllu(EWT_TRAIN, nlp.vocab, n_sents=50, keep=False):
        for t in d:
            if t.lemma_: forms[t.text][t.lemma_] += 1; by_pos[(t.text.lower(), t.pos_.lower())][t.lemma_] += 1
    best = {k: c.most_common(1)[0][0] for k, c in by_pos.items() if k[1] not in ("propn", "")}
    rules, index = defaultdict(Counter), defaultdict(set)
    for (low, pos), lemma in best.items():
        index[pos].add(lemma)
        n = 0
        while n < min(len(low), len(lemma)) and low[n] == lemma[n]: n += 1
        rules[pos][(low[n:], lemma[n:])] += 1
    tables = {"lemma_rules": {p: [list(r) for r, k in reversed(c.most_common()) if k >= 2 and len(r[0]) <= 4] for p, c in rules.items()},
              "lemma_index": {p: sorted(v) for p, v in index.items()}}
    lem = Lemmatizer(nlp.vocab, mode="rule"); lem.initialize(lookups=tables)
    exc = defaultdict(dict)
    for (low, pos), lemma in best.items():
        if lem.rule_lemmatize(Doc(nlp.vocab, [low], pos=[pos.upper()])[0])[0] != lemma: exc[pos][low] = [lemma]
    tables = {"lemma_lookup": {f: c.most_common(1)[0][0] for f, c in forms.items()}, **tables, "lemma_exc": dict(exc)}
    return ewt, wiki, phrases, ruler_patterns, tables


# -- the two halves ---------------------------------------------------------------------------------------------

def run_nlpnb(folder: Path, repeat: int) -> dict:
    import nlpnb, srsly
    import nlpnb.pipeline.entity_ruler, nlpnb.pipeline.lemmatizer, nlpnb.pipeline.sentencizer
    from nlpnb.matcher import Matcher, PhraseMatcher
    from nlpnb.symbols import SPACY
    from nlpnb.tokens import Doc, DocBin
    from nlpnb.training import Example
    nlp = nlpnb.blank("en")
    ewt, wiki, phrases, ruler_patterns, tables = build_inputs(nlp)
    for name, docs in (("ewt", ewt), ("wiki", wiki)):
        db = DocBin()
        for d in docs: db.add(d)
        db.to_disk(folder / f"{name}.spacy")
    (folder / "inputs.json").write_text(json.dumps({"patterns": PATTERNS, "greedy": GREEDY, "phrases": phrases, "tables": tables}))
    srsly.write_jsonl(folder / "ruler.jsonl", ruler_patterns)
    out, n_ewt, n_wiki = {}, sum(map(len, ewt)), sum(map(len, wiki))
    fresh = lambda docs: [Doc(nlp.vocab, d.words, d._cols[SPACY].tolist()) for d in docs]

    m = Matcher(nlp.vocab)
    for k, ps in PATTERNS.items(): m.add(k, ps, greedy=GREEDY.get(k))
    m.match_docs(ewt[:1])
    out["matcher"] = {"wps": n_ewt / best_of(lambda _: m.match_docs(ewt), repeat),
                      "wps_per_doc": n_ewt / best_of(lambda _: [m(d) for d in ewt], repeat),
                      "matches": sum(len(x) for x in m.match_docs(ewt))}
    pm = PhraseMatcher(nlp.vocab, attr="LOWER")
    for k, ps in phrases.items(): pm.add(k, list(nlp.tokenizer.pipe(ps)))
    pm.match_docs(ewt[:1])
    out["phrase_matcher"] = {"wps": n_ewt / best_of(lambda _: pm.match_docs(ewt), repeat),
                             "wps_per_doc": n_ewt / best_of(lambda _: [pm(d) for d in ewt], repeat),
                             "matches": sum(len(x) for x in pm.match_docs(ewt))}

    er = nlpnb.blank("en", vocab=nlp.vocab)
    ruler = er.add_pipe("entity_ruler")
    t = time.perf_counter(); ruler.add_patterns(ruler_patterns); add_secs = time.perf_counter() - t
    list(ruler.pipe(fresh(wiki[:10])))
    secs = best_of(lambda docs: list(ruler.pipe(docs)), repeat, lambda: fresh(wiki))
    preds = list(ruler.pipe(fresh(wiki)))
    sc = ruler.score([Example(p, g) for p, g in zip(preds, wiki)])
    out["entity_ruler"] = {"wps": n_wiki / secs, "add_patterns_s": add_secs, "n_patterns": len(ruler_patterns),
                           **{k: sc[k] for k in ("ents_p", "ents_r", "ents_f")}}

    sn = nlpnb.blank("en", vocab=nlp.vocab); sent = sn.add_pipe("sentencizer")
    secs = best_of(lambda docs: list(sent.pipe(docs)), repeat, lambda: fresh(ewt))
    preds = list(sent.pipe(fresh(ewt)))
    out["sentencizer"] = {"wps": n_ewt / secs, "sents_f": sent.score([Example(p, g) for p, g in zip(preds, ewt)])["sents_f"]}

    warnings.simplefilter("ignore")
    for mode in ("lookup", "rule"):
        ln = nlpnb.blank("en", vocab=nlp.vocab); lem = ln.add_pipe("lemmatizer", config={"mode": mode})
        lem.initialize(lookups=tables)
        make = lambda: [Doc(nlp.vocab, g.words, g._cols[SPACY].tolist(), pos=[t.pos_ for t in g], morphs=[str(t.morph) for t in g]) for g in ewt]
        list(lem.pipe(make()))
        secs = best_of(lambda docs: list(lem.pipe(docs)), repeat, make)
        preds = list(lem.pipe(make()))
        out[f"lemmatizer_{mode}"] = {"wps": n_ewt / secs, "lemma_acc": lem.score([Example(p, g) for p, g in zip(preds, ewt)])["lemma_acc"]}
    return out


def spacy_worker(folder: Path, repeat: int) -> dict:
    "Runs under spaCy's interpreter."
    import spacy, srsly
    from spacy.lookups import Lookups
    from spacy.matcher import Matcher, PhraseMatcher
    from spacy.tokens import Doc, DocBin
    from spacy.training import Example
    warnings.simplefilter("ignore")
    inp = json.loads((folder / "inputs.json").read_text())
    nlp = spacy.blank("en")
    ewt = list(DocBin().from_disk(folder / "ewt.spacy").get_docs(nlp.vocab))
    wiki = list(DocBin().from_disk(folder / "wiki.spacy").get_docs(nlp.vocab))
    n_ewt, n_wiki = sum(map(len, ewt)), sum(map(len, wiki))
    fresh = lambda docs: [Doc(nlp.vocab, words=[t.text for t in d], spaces=[bool(t.whitespace_) for t in d]) for d in docs]
    out = {"version": spacy.__version__}
    m = Matcher(nlp.vocab)
    for k, ps in inp["patterns"].items(): m.add(k, ps, greedy=inp["greedy"].get(k))
    out["matcher"] = {"wps": n_ewt / best_of(lambda _: [m(d) for d in ewt], repeat), "matches": sum(len(m(d)) for d in ewt)}
    pm = PhraseMatcher(nlp.vocab, attr="LOWER")
    for k, ps in inp["phrases"].items(): pm.add(k, list(nlp.tokenizer.pipe(ps)))
    out["phrase_matcher"] = {"wps": n_ewt / best_of(lambda _: [pm(d) for d in ewt], repeat), "matches": sum(len(pm(d)) for d in ewt)}
    er = spacy.blank("en", vocab=nlp.vocab); ruler = er.add_pipe("entity_ruler")
    t = time.perf_counter(); ruler.add_patterns(list(srsly.read_jsonl(folder / "ruler.jsonl"))); add_secs = time.perf_counter() - t
    secs = best_of(lambda docs: list(ruler.pipe(docs)), repeat, lambda: fresh(wiki))
    sc = ruler.score([Example(p, g) for p, g in zip(ruler.pipe(fresh(wiki)), wiki)])
    out["entity_ruler"] = {"wps": n_wiki / secs, "add_patterns_s": add_secs, **{k: sc[k] for k in ("ents_p", "ents_r", "ents_f")}}
    sn = spacy.blank("en", vocab=nlp.vocab); sent = sn.add_pipe("sentencizer")
    secs = best_of(lambda docs: list(sent.pipe(docs)), repeat, lambda: fresh(ewt))
    out["sentencizer"] = {"wps": n_ewt / secs, "sents_f": sent.score([Example(p, g) for p, g in zip(sent.pipe(fresh(ewt)), ewt)])["sents_f"]}
    for mode, names in (("lookup", ["lemma_lookup"]), ("rule", ["lemma_rules", "lemma_index", "lemma_exc"])):
        ln = spacy.blank("en", vocab=nlp.vocab); lem = ln.add_pipe("lemmatizer", config={"mode": mode})
        lk = Lookups()
        for n in names: lk.add_table(n, inp["tables"][n])
        lem.initialize(lookups=lk)
        make = lambda: [Doc(nlp.vocab, words=[t.text for t in g], spaces=[bool(t.whitespace_) for t in g], pos=[t.pos_ for t in g],
                            morphs=[str(t.morph) for t in g]) for g in ewt]
        list(lem.pipe(make()))
        secs = best_of(lambda docs: list(lem.pipe(docs)), repeat, make)
        preds = list(lem.pipe(make()))
        out[f"lemmatizer_{mode}"] = {"wps": n_ewt / secs, "lemma_acc": lem.score([Example(p, g) for p, g in zip(preds, ewt)])["lemma_acc"]}
    return out


def first_call(cold: bool) -> float:
    "Seconds from a fresh interpreter's first Matcher and PhraseMatcher calls (JIT compile or cache load)."
    code = ("import time, nlpnb; from nlpnb.matcher import Matcher, PhraseMatcher; nlp = nlpnb.blank('en'); d = nlp('a b c');"
            "m = Matcher(nlp.vocab); m.add('A', [[{'LOWER': 'a'}, {'OP': '*'}]]); pm = PhraseMatcher(nlp.vocab); pm.add('B', [nlp('b c')]);"
            "t = time.perf_counter(); m(d); pm(d); print(time.perf_counter() - t)")
    env = dict(os.environ)
    if cold: env["NUMBA_CACHE_DIR"] = tempfile.mkdtemp()
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout.split()[-1])


def find_spacy(arg):
    for p in ([Path(arg)] if arg else []) + [ROOT / "benchmarks" / ".venv" / "bin" / "python", Path("/work/spacy-venv/bin/python")]:
        if p.exists() and subprocess.run([str(p), "-c", "import spacy"], capture_output=True).returncode == 0: return p
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spacy-python", default=None)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS"): os.environ[var] = str(args.threads)
    if args.worker:
        json.dump(spacy_worker(Path(args.worker), args.repeat), sys.stdout); return
    folder = Path(tempfile.mkdtemp(prefix="bench_rules-"))
    ours = run_nlpnb(folder, args.repeat)
    py = find_spacy(args.spacy_python)
    theirs = {}
    if py is not None:
        r = subprocess.run([str(py), __file__, "--worker", str(folder), "--repeat", str(args.repeat), "--threads", str(args.threads)],
                           capture_output=True, text=True, env={**os.environ, "PYTHONPATH": ""})
        if r.returncode: sys.exit(r.stderr[-3000:])
        theirs = json.loads(r.stdout)
    ours["first_call_s"] = {"cold_cache": first_call(True), "warm_cache": first_call(False)}
    cmd = "python benchmarks/bench_rules.py " + " ".join(sys.argv[1:])
    print(f"$ {cmd}\nthreads={args.threads}, best of {args.repeat}; spaCy {theirs.get('version', 'not found')}")
    print(f"{'component':<22}{'nlpnb w/s':>12}{'spaCy w/s':>12}{'ratio':>8}   notes")
    for name in ("matcher", "phrase_matcher", "entity_ruler", "sentencizer", "lemmatizer_lookup", "lemmatizer_rule"):
        a, b = ours[name], theirs.get(name, {})
        ratio = f"{a['wps'] / b['wps']:.2f}" if b else "-"
        notes = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in a.items() if k != "wps"}
        if b: notes.update({f"spacy_{k}": (round(v, 4) if isinstance(v, float) else v) for k, v in b.items() if k != "wps"})
        print(f"{name:<22}{a['wps']:>12,.0f}{b.get('wps', float('nan')):>12,.0f}{ratio:>8}   {notes}")
    print(f"first Matcher + PhraseMatcher call: {ours['first_call_s']['cold_cache']:.2f} s with a cold Numba cache, "
          f"{ours['first_call_s']['warm_cache']:.3f} s warm")
    results = ROOT / "benchmarks" / "results"; results.mkdir(exist_ok=True)
    (results / "bench_rules.json").write_text(json.dumps({"command": cmd, "nlpnb": ours, "spacy": theirs}, indent=1))


if __name__ == "__main__":
    main()
