"""Rule-based components on real data, side by side with spaCy 3.8 where an interpreter with it is found
(NLPNB_SPACY_PYTHON, else benchmarks/.venv, else /work/spacy-venv; one background process does all of spaCy's side):

- Matcher: 21 token patterns (every quantifier, IN / NOT_IN / REGEX / comparisons / set predicates, flags,
  SENT_START, greedy keys) on UD English EWT dev: the same matches as spaCy's Matcher in every Doc; PhraseMatcher
  (attr LOWER, 3,000 frequent n-grams): the same matches in the same order. Kernels against their references.
- sentencizer on EWT dev text tokenized by `nlpnb.blank("en")`, gold from CoNLL-U, scored through alignment:
  sents_p/r/f 0.7675 / 0.5857 / 0.6644, the same tokens and sentence starts as spaCy's sentencizer.
- entity_ruler on WikiANN dev with phrase patterns of WikiANN train entities (majority label): ents_p/r/f
  0.3567 / 0.1856 / 0.2441, the same entities as spaCy's entity_ruler in every Doc; JSONL round trip through
  `nlp.to_disk` / `nlpnb.load`; pattern validation errors.
- lemmatizer with tables built from EWT train: lookup lemma_acc 0.9527; rule mode with gold POS and morphology
  0.9666, with gold POS only 0.9511: the same lemmas as spaCy's lemmatizer given the same tables.
"""
import json, os, subprocess
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
import srsly

import nlpnb
import nlpnb.pipeline.entity_ruler, nlpnb.pipeline.lemmatizer, nlpnb.pipeline.sentencizer   # register the factories
from nlpnb.matcher import (Matcher, PhraseMatcher, MatchPatternError, SpecTable, build_trie, compile_token_pattern,
                           order_matches, order_matches_reference, phrase_matches, phrase_matches_reference,
                           random_phrase_case, random_token_case, start_index, token_matches, token_matches_reference)
from nlpnb.pipeline.entity_ruler import read_patterns
from nlpnb.pipeline.lemmatizer import Lemmatizer
from nlpnb.pipeline.sentencizer import DEFAULT_PUNCT_CHARS
from nlpnb.symbols import SPACY
from nlpnb.tokens import Doc, DocBin
from nlpnb.training import Example
from nlpnb.training.converters import read_conllu, read_iob

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
EWT_TRAIN, EWT_DEV = DATA / "ud_en_ewt" / "en_ewt-ud-train.conllu", DATA / "ud_en_ewt" / "en_ewt-ud-dev.conllu"
WIKIANN_TRAIN, WIKIANN_DEV = DATA / "wikiann_en" / "train.iob", DATA / "wikiann_en" / "dev.iob"

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

SPACY_SCRIPT = r'''
import json, sys, time, warnings
warnings.simplefilter("ignore")
from pathlib import Path
import spacy, srsly
from spacy.lookups import Lookups
from spacy.matcher import Matcher, PhraseMatcher
from spacy.pipeline.sentencizer import Sentencizer
from spacy.tokens import Doc, DocBin
from spacy.training import Example
folder = Path(sys.argv[1])
inp = json.loads((folder / "inputs.json").read_text())
out = {"punct_chars": sorted(Sentencizer.default_punct_chars)}
nlp = spacy.blank("en")
ewt = list(DocBin().from_disk(folder / "ewt_dev.spacy").get_docs(nlp.vocab))
# matcher and phrase matcher
m = Matcher(nlp.vocab)
for k, ps in inp["patterns"].items(): m.add(k, ps, greedy=inp["greedy"].get(k))
out["matches"] = [[[nlp.vocab.strings[k], s, e] for k, s, e in m(d)] for d in ewt]
pm = PhraseMatcher(nlp.vocab, attr="LOWER")
for k, ps in inp["phrases"].items(): pm.add(k, list(nlp.tokenizer.pipe(ps)))
out["phrase_matches"] = [[[nlp.vocab.strings[k], s, e] for k, s, e in pm(d)] for d in ewt]
# sentencizer on the text
sn = spacy.blank("en"); sn.add_pipe("sentencizer")
preds = list(sn.pipe([g.text for g in ewt]))
out["sent_words"] = [[t.text for t in p] for p in preds]
out["sent_starts"] = [[t.i for t in p if t.is_sent_start] for p in preds]
out["sent_scores"] = sn.get_pipe("sentencizer").score([Example(p, g) for p, g in zip(preds, ewt)])
# lemmatizer with our tables, on gold POS (and morphology)
tables = json.loads((folder / "tables.json").read_text())
lemmas = {}
for mode, names, morph in (("lookup", ["lemma_lookup"], True), ("rule", ["lemma_rules", "lemma_index", "lemma_exc"], True),
                           ("rule", ["lemma_rules", "lemma_index", "lemma_exc"], False)):
    ln = spacy.blank("en")
    lem = ln.add_pipe("lemmatizer", config={"mode": mode, "overwrite": True})
    lk = Lookups()
    for n in names: lk.add_table(n, tables[n])
    lem.initialize(lookups=lk)
    lemmas[f"{mode}{'' if morph else '_pos_only'}"] = [
        [t.lemma_ for t in lem(Doc(ln.vocab, words=[t.text for t in g], pos=[t.pos_ for t in g],
                                   morphs=[str(t.morph) if morph else None for t in g]))] for g in ewt]
out["lemmas"] = lemmas
# entity ruler with our patterns on WikiANN dev words
er = spacy.blank("en"); ruler = er.add_pipe("entity_ruler")
ruler.add_patterns(list(srsly.read_jsonl(folder / "wikiann_patterns.jsonl")))
wiki = list(DocBin().from_disk(folder / "wikiann_dev.spacy").get_docs(er.vocab))
preds = list(ruler.pipe([Doc(er.vocab, words=[t.text for t in g], spaces=[bool(t.whitespace_) for t in g]) for g in wiki]))
out["ents"] = [[[e.start, e.end, e.label_] for e in p.ents] for p in preds]
sc = ruler.score([Example(p, g) for p, g in zip(preds, wiki)])
out["ent_scores"] = {k: v for k, v in sc.items() if k != "ents_per_type"}
json.dump(out, sys.stdout)
'''


def spacy_python():
    env = os.environ.get("NLPNB_SPACY_PYTHON")
    for p in ([Path(env)] if env else []) + [ROOT / "benchmarks" / ".venv" / "bin" / "python", Path("/work/spacy-venv/bin/python")]:
        if p.exists() and subprocess.run([str(p), "-c", "import spacy"], capture_output=True).returncode == 0: return p
    return None


def ewt_phrases(docs, n=3000):
    "The most frequent lower-cased 1- to 3-grams of `docs`, spread over seven keys."
    cnt = Counter()
    for d in docs:
        w = [x.lower() for x in d.words]
        for k in (1, 2, 3):
            for i in range(len(w) - k + 1): cnt[" ".join(w[i:i + k])] += 1
    phrases = {f"P{i}": [] for i in range(7)}
    for i, (p, _) in enumerate(cnt.most_common(n)): phrases[f"P{i % 7}"].append(p)
    return phrases


def lemma_tables(docs, min_count=2):
    "A lookup table (form -> most frequent lemma) and rule tables from gold lemmas: suffix rules per POS (most "
    "frequent last, where the rule lemmatizer gives them priority), known lemmas per POS, and as exceptions the "
    "forms the rules get wrong. Proper nouns get no tables (they keep their text)."
    forms, by_pos = defaultdict(Counter), defaultdict(Counter)
    for d in docs:
        for t in d:
            if t.lemma_:
                forms[t.text][t.lemma_] += 1
                by_pos[(t.text.lower(), t.pos_.lower())][t.lemma_] += 1
    lookup = {f: c.most_common(1)[0][0] for f, c in forms.items()}
    rules, index = defaultdict(Counter), defaultdict(set)
    best = {key: c.most_common(1)[0][0] for key, c in by_pos.items() if key[1] not in ("propn", "")}
    for (low, pos), lemma in best.items():
        index[pos].add(lemma)
        n = 0
        while n < min(len(low), len(lemma)) and low[n] == lemma[n]: n += 1
        rules[pos][(low[n:], lemma[n:])] += 1
    tables = {"lemma_rules": {pos: [list(r) for r, k in reversed(c.most_common()) if k >= min_count and len(r[0]) <= 4]
                              for pos, c in rules.items()},
              "lemma_index": {pos: sorted(v) for pos, v in index.items()}}
    lem = Lemmatizer(nlpnb.blank("en").vocab, mode="rule")
    lem.initialize(lookups=tables)
    exc = defaultdict(dict)
    for (low, pos), lemma in best.items():
        if lem.rule_lemmatize(Doc(lem.vocab, [low], pos=[pos.upper()])[0])[0] != lemma: exc[pos][low] = [lemma]
    return {"lemma_lookup": lookup, **tables, "lemma_exc": dict(exc)}


def wikiann_patterns(docs):
    "A phrase pattern for each entity text of `docs`, labelled with the label it has at least half the time."
    labels = defaultdict(Counter)
    for d in docs:
        for e in d.ents: labels[e.text][e.label_] += 1
    out = []
    for text, c in labels.items():
        label, n = c.most_common(1)[0]
        if n / sum(c.values()) >= 0.5: out.append({"label": label, "pattern": text})
    return out


class Data:
    "EWT and WikiANN, the inputs built from their train splits, and spaCy's results (from a background process)."
    def __init__(self, folder: Path):
        self.folder = folder
        self.nlp = nlpnb.blank("en")
        vocab = self.nlp.vocab
        self.ewt_dev = list(read_conllu(EWT_DEV, vocab, n_sents=10, keep=False))
        self.tables = lemma_tables(read_conllu(EWT_TRAIN, vocab, n_sents=50, keep=False))
        self.wiki_dev = list(read_iob(WIKIANN_DEV, vocab))
        self.patterns = wikiann_patterns(read_iob(WIKIANN_TRAIN, vocab))
        self.phrases = ewt_phrases(self.ewt_dev)
        self.spacy_proc, self._spacy = None, None
        py = spacy_python()
        if py is None: return
        for name, docs in (("ewt_dev", self.ewt_dev), ("wikiann_dev", self.wiki_dev)):
            db = DocBin()
            for d in docs: db.add(d)
            db.to_disk(folder / f"{name}.spacy")
        (folder / "inputs.json").write_text(json.dumps({"patterns": PATTERNS, "greedy": GREEDY, "phrases": self.phrases}))
        (folder / "tables.json").write_text(json.dumps(self.tables))
        srsly.write_jsonl(folder / "wikiann_patterns.jsonl", self.patterns)
        self.spacy_proc = subprocess.Popen([str(py), "-c", SPACY_SCRIPT, str(folder)], stdout=subprocess.PIPE,
                                           stderr=subprocess.PIPE, text=True)

    def spacy(self) -> dict:
        if self.spacy_proc is None: pytest.skip("no interpreter with spaCy 3.8 (NLPNB_SPACY_PYTHON, benchmarks/.venv)")
        if self._spacy is None:
            out, err = self.spacy_proc.communicate(timeout=900)
            assert self.spacy_proc.returncode == 0, err[-3000:]
            self._spacy = json.loads(out)
        return self._spacy


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    if not all(p.exists() for p in (EWT_TRAIN, EWT_DEV, WIKIANN_TRAIN, WIKIANN_DEV)): pytest.skip("../shared/data is missing")
    d = Data(tmp_path_factory.mktemp("rules"))
    yield d
    if d.spacy_proc is not None and d.spacy_proc.poll() is None: d.spacy_proc.kill()


def fresh(doc: Doc) -> Doc:
    "The words and spaces of `doc`, without annotation."
    return Doc(doc.vocab, doc.words, doc._cols[SPACY].tolist())


# -- kernels against their references ----------------------------------------------------------------------

@pytest.mark.parametrize("seed,n_specs,n_patterns,n_tokens", [(10, 3, 4, 10), (11, 6, 8, 20), (12, 2, 12, 25)])
def test_token_kernel_agrees_with_reference(seed, n_specs, n_patterns, n_tokens):
    rng = np.random.default_rng(seed)
    for _ in range(150):
        case = random_token_case(rng, n_specs, n_patterns, n_tokens)
        assert sorted(map(tuple, token_matches(*case).tolist())) == token_matches_reference(*case)


@pytest.mark.parametrize("seed,n_phrases,n_tokens,alphabet", [(20, 6, 15, 3), (21, 40, 60, 4), (22, 3, 100, 2)])
def test_phrase_kernel_agrees_with_reference(seed, n_phrases, n_tokens, alphabet):
    rng = np.random.default_rng(seed)
    for _ in range(150):
        phrases, keys, doc_ptr = random_phrase_case(rng, n_phrases, n_tokens, alphabet)
        rows = phrase_matches(*build_trie(phrases), keys, doc_ptr)
        assert sorted(map(tuple, rows.tolist())) == sorted(phrase_matches_reference(phrases, keys, doc_ptr))


def test_greedy_ordering_agrees_with_reference():
    rng = np.random.default_rng(30)
    for _ in range(1000):
        n = int(rng.integers(1, 60))
        doc = np.sort(rng.integers(0, 4, size=n)); order = rng.integers(0, 5, size=n)
        start = doc * 20 + rng.integers(0, 15, size=n); end = start + rng.integers(1, 5, size=n)
        mode = rng.integers(0, 3, size=5)
        sel = order_matches(doc, order, start, end, mode, 80)
        got = [(int(doc[i]), int(order[i]), int(start[i]), int(end[i])) for i in sel]
        assert got == order_matches_reference(list(zip(doc.tolist(), order.tolist(), start.tolist(), end.tolist())), mode.tolist())


# -- Matcher and PhraseMatcher on EWT dev --------------------------------------------------------------------------

def our_matches(data):
    m = Matcher(data.nlp.vocab)
    for k, ps in PATTERNS.items(): m.add(k, ps, greedy=GREEDY.get(k))
    strings = data.nlp.vocab.strings
    return [[(strings[k], s, e) for k, s, e in ms] for ms in m.match_docs(data.ewt_dev)]


def test_matcher_on_ewt_matches_what_the_definition_says(data):
    "Without spaCy: the batch matcher against the brute-force reference on the start of the first Doc, pattern by pattern."
    ours = our_matches(data)
    counts = Counter(k for ms in ours for k, _, _ in ms)
    assert all(counts[k] > 0 for k in PATTERNS), counts
    strings = data.nlp.vocab.strings
    for key in [k for k in PATTERNS if k not in GREEDY]:
        table = SpecTable(strings)
        steps = [compile_token_pattern(p, strings)[0] for p in PATTERNS[key]]
        lens = [len(s) for s in steps]
        pat_ptr = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
        pat_spec = np.array([table.add(spec) for s in steps for spec, _ in s], dtype=np.int64)
        pat_op = np.array([op for s in steps for _, op in s], dtype=np.int64)
        head = data.ewt_dev[0][:60].as_doc()   # matches ending in the first 60 tokens are the same in the whole Doc
        case = (pat_ptr, pat_spec, pat_op, *start_index(pat_ptr, pat_spec, pat_op, len(table.specs)), *table.match_table([head]))
        ref = sorted({(s, e) for _, s, e in token_matches_reference(*case)})
        assert sorted((s, e) for k, s, e in ours[0] if k == key and e <= 60) == ref, key
    for ms in ours:   # ordered by end, then start (greedy keys after the rest)
        plain = [(e, s) for k, s, e in ms if k not in GREEDY]
        assert plain == sorted(plain)


def test_matcher_agrees_with_spacy_on_ewt(data):
    sp = data.spacy()
    ours = our_matches(data)
    assert sum(map(len, ours)) == sum(map(len, sp["matches"])) > 30000
    for i, (a, b) in enumerate(zip(ours, sp["matches"])):
        # the same matches; spaCy orders matches that end on the same token by its automaton's state order
        assert sorted(a) == sorted(map(tuple, b)), i
        assert [m for m in a if m[0] in GREEDY] == [tuple(m) for m in b if m[0] in GREEDY], i


def test_phrase_matcher_agrees_with_spacy_on_ewt(data):
    sp = data.spacy()
    pm = PhraseMatcher(data.nlp.vocab, attr="LOWER")
    for k, ps in data.phrases.items(): pm.add(k, list(data.nlp.tokenizer.pipe(ps)))
    strings = data.nlp.vocab.strings
    ours = [[[strings[k], s, e] for k, s, e in ms] for ms in pm.match_docs(data.ewt_dev)]
    assert ours == sp["phrase_matches"]
    assert sum(map(len, ours)) > 25000


def test_morph_values_are_normalized(data):
    "A deliberate difference: nlpnb reads MORPH values in any feature order; spaCy matches only the canonical string."
    m = Matcher(data.nlp.vocab)
    m.add("A", [[{"MORPH": "Mood=Ind|Number=Sing|Person=3|Tense=Pres|VerbForm=Fin"}]])
    m.add("B", [[{"MORPH": "VerbForm=Fin|Person=3|Number=Sing|Tense=Pres|Mood=Ind"}]])
    found = Counter(data.nlp.vocab.strings[k] for ms in m.match_docs(data.ewt_dev) for k, _, _ in ms)
    assert found["A"] == found["B"] > 500


def test_matcher_errors_name_key_pattern_token_and_attribute():
    nlp = nlpnb.blank("en")
    m = Matcher(nlp.vocab)
    with pytest.raises(MatchPatternError) as e:
        m.add("CITY", [[{"LOWER": "san"}], [{"LOWER": "new"}, {"LOWR": "york", "OP": "++"}], [{"LENGTH": {">": "3"}}]])
    msg = str(e.value)
    assert "key 'CITY'" in msg and "pattern 1: token 1 -> LOWR: unknown attribute 'LOWR'" in msg
    assert "pattern 1: token 1 -> OP: unknown operator '++'" in msg and "pattern 2: token 0 -> LENGTH -> >: expected an integer" in msg
    assert len(m) == 0   # nothing was added
    with pytest.raises(MatchPatternError, match="expected true or false"): m.add("X", [[{"IS_DIGIT": "yes"}]])
    with pytest.raises(MatchPatternError, match="LOWER is not numeric"): m.add("X", [[{"LOWER": {">=": 3}}]])
    with pytest.raises(MatchPatternError, match="invalid regular expression"): m.add("X", [[{"ORTH": {"REGEX": "(a"}}]])
    with pytest.raises(MatchPatternError, match="needs at least one token"): m.add("X", [[]])
    strict = Matcher(nlp.vocab, validate=True)
    with pytest.raises(MatchPatternError, match="expected a string, got int"): strict.add("X", [[{"ORTH": 5}]])
    m.add("NOUN", [[{"POS": "NOUN"}]])
    with pytest.raises(ValueError, match="E155.*POS"): m(nlp.make_doc("a cat"))


# -- sentencizer ----------------------------------------------------------------------------------------------

def sentencizer_run(data):
    "The dev text, tokenized and split by a blank English pipeline with a sentencizer; gold sentences from the parse."
    nlp = nlpnb.blank("en", vocab=data.nlp.vocab)
    nlp.add_pipe("sentencizer")
    preds = list(nlp.pipe([g.text for g in data.ewt_dev]))
    return nlp, preds, [Example(p, g) for p, g in zip(preds, data.ewt_dev)]


def test_sentencizer_on_ewt(data):
    nlp, preds, egs = sentencizer_run(data)
    assert sum(p.words != g.words for p, g in zip(preds, data.ewt_dev)) > 0   # tokenized by us, scored through alignment
    scores = nlp.get_pipe("sentencizer").score(egs)
    assert (round(scores["sents_p"], 4), round(scores["sents_r"], 4), round(scores["sents_f"], 4)) == (0.7675, 0.5857, 0.6644)
    assert nlp.evaluate(egs)["sents_f"] == scores["sents_f"]


def test_sentencizer_agrees_with_spacy(data):
    sp = data.spacy()
    nlp, preds, egs = sentencizer_run(data)
    assert [p.words for p in preds] == sp["sent_words"]
    assert [[t.i for t in p if t.is_sent_start] for p in preds] == sp["sent_starts"]
    ours = nlp.get_pipe("sentencizer").score(egs)
    assert ours == pytest.approx(sp["sent_scores"])
    assert DEFAULT_PUNCT_CHARS == sp["punct_chars"]


# -- entity ruler on WikiANN -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ruled(data):
    "A pipeline with the WikiANN patterns, its predictions on WikiANN dev and their scores."
    nlp = nlpnb.blank("en", vocab=data.nlp.vocab)
    nlp.add_pipe("entity_ruler").add_patterns(data.patterns)
    preds = list(nlp.get_pipe("entity_ruler").pipe([fresh(g) for g in data.wiki_dev]))
    return nlp, preds, nlp.get_pipe("entity_ruler").score([Example(p, g) for p, g in zip(preds, data.wiki_dev)])


def test_entity_ruler_on_wikiann(data, ruled, tmp_path):
    nlp, preds, scores = ruled
    ruler = nlp.get_pipe("entity_ruler")
    assert len(ruler) == len(data.patterns) > 20000 and ruler.labels == ("LOC", "ORG", "PER")
    assert (round(scores["ents_p"], 4), round(scores["ents_r"], 4), round(scores["ents_f"], 4)) == (0.3567, 0.1856, 0.2441)
    # saved with the pipeline as JSONL, one pattern per line, and loaded back whole
    nlp.to_disk(tmp_path / "ruler")
    lines = (tmp_path / "ruler" / "entity_ruler" / "patterns.jsonl").read_text(encoding="utf8").splitlines()
    assert [json.loads(x) for x in lines] == data.patterns
    loaded = nlpnb.load(tmp_path / "ruler")
    assert loaded.get_pipe("entity_ruler").patterns == data.patterns
    again = list(loaded.pipe(fresh(g) for g in data.wiki_dev))
    assert [[(e.start, e.end, e.label_) for e in d.ents] for d in again] == [[(e.start, e.end, e.label_) for e in d.ents] for d in preds]


def test_entity_ruler_agrees_with_spacy(data, ruled):
    sp = data.spacy()
    nlp, preds, scores = ruled
    assert [[[e.start, e.end, e.label_] for e in p.ents] for p in preds] == sp["ents"]
    assert {k: v for k, v in scores.items() if k != "ents_per_type"} == pytest.approx(sp["ent_scores"])


def test_entity_ruler_pattern_errors(tmp_path):
    nlp = nlpnb.blank("en")
    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "ORG", "pattern": "Apple"}])
    bad = [{"label": "GPE", "pattern": [{"LOWER": "san"}, {"LOWER": "francisco"}]},
           {"label": "GPE", "pattern": [{"LOWER": "new"}, {"TXT": "York"}]},
           {"pattern": "Berlin"}, {"label": "LOC", "pattern": {"LOWER": "x"}},
           {"label": "ORG", "pattern": "IBM", "id": 3}, "not a dict"]
    with pytest.raises(MatchPatternError) as e: ruler.add_patterns(bad)
    msg = str(e.value)
    for part in ["pattern 1 (label 'GPE'): token 1 -> TXT: unknown attribute 'TXT'", "pattern 2: 'label' must be a non-empty string",
                 "pattern 3 (label 'LOC'): 'pattern' must be a string (a phrase) or a list", "pattern 4 (label 'ORG'): 'id' must be a string",
                 "pattern 5: expected a dict"]:
        assert part in msg, (part, msg)
    assert len(ruler) == 1 and ruler.patterns == [{"label": "ORG", "pattern": "Apple"}]   # all or nothing
    path = tmp_path / "patterns.jsonl"
    path.write_text('{"label": "ORG", "pattern": "Apple"}\n{"label": "ORG", "pattern": \n', encoding="utf8")
    with pytest.raises(ValueError, match=r"patterns.jsonl:2: not a JSON object"): read_patterns(path)
    with pytest.raises(ValueError, match="token 0 -> IS_TITLE: expected true or false"):
        nlpnb.blank("en").add_pipe("entity_ruler", config={"validate": True}).add_patterns([{"label": "X", "pattern": [{"IS_TITLE": 1}]}])


def test_entity_ruler_from_config_initialize(tmp_path):
    path = tmp_path / "patterns.jsonl"
    srsly.write_jsonl(path, [{"label": "ORG", "pattern": [{"LOWER": "acme"}, {"LOWER": "corp", "OP": "?"}], "id": "acme"},
                             {"label": "GPE", "pattern": "new york"}])
    nlp = nlpnb.blank("en")
    nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "LOWER", "overwrite_ents": True})
    cfg = nlp.config
    cfg["initialize"]["components"] = {"entity_ruler": {"patterns": str(path)}}
    nlp = nlpnb.Language.from_config(cfg)
    nlp.initialize()
    doc = nlp("ACME Corp opened in New York")
    assert [(e.text, e.label_, e.id_) for e in doc.ents] == [("ACME Corp", "ORG", "acme"), ("New York", "GPE", "")]
    nlp.to_disk(tmp_path / "p")
    loaded = nlpnb.load(tmp_path / "p")
    assert loaded.get_pipe("entity_ruler").cfg["phrase_matcher_attr"] == "LOWER"
    assert [(e.text, e.label_) for e in loaded("NEW YORK").ents] == [("NEW YORK", "GPE")]


# -- lemmatizer ----------------------------------------------------------------------------------------------

def lemmatize_dev(data, mode, morph=True):
    nlp = nlpnb.blank("en", vocab=data.nlp.vocab)
    lem = nlp.add_pipe("lemmatizer", config={"mode": mode})
    lem.initialize(lookups=data.tables)
    preds = [Doc(nlp.vocab, g.words, g._cols[SPACY].tolist(), pos=[t.pos_ for t in g],
                 morphs=[str(t.morph) if morph else None for t in g]) for g in data.ewt_dev]
    preds = list(lem.pipe(preds))
    return nlp, preds, lem.score([Example(p, g) for p, g in zip(preds, data.ewt_dev)])["lemma_acc"]


def test_lemmatizer_on_ewt(data, tmp_path):
    _, _, lookup = lemmatize_dev(data, "lookup")
    nlp, preds, rule = lemmatize_dev(data, "rule")
    _, _, pos_only = lemmatize_dev(data, "rule", morph=False)
    assert (round(lookup, 4), round(rule, 4), round(pos_only, 4)) == (0.9527, 0.9666, 0.9511)
    nlp.to_disk(tmp_path / "lem")
    assert srsly.read_json(tmp_path / "lem" / "lemmatizer" / "lookups.json")["lemma_exc"] == data.tables["lemma_exc"]
    loaded = nlpnb.load(tmp_path / "lem")
    again = list(loaded.get_pipe("lemmatizer").pipe([Doc(loaded.vocab, p.words, pos=[t.pos_ for t in p], morphs=[str(t.morph) for t in p]) for p in preds[:50]]))
    assert [[t.lemma_ for t in d] for d in again] == [[t.lemma_ for t in d] for d in preds[:50]]


def test_lemmatizer_agrees_with_spacy(data):
    sp = data.spacy()
    for key, mode, morph in (("lookup", "lookup", True), ("rule", "rule", True), ("rule_pos_only", "rule", False)):
        _, preds, _ = lemmatize_dev(data, mode, morph)
        assert [[t.lemma_ for t in p] for p in preds] == sp["lemmas"][key], key


def test_lemmatizer_table_errors():
    lem = nlpnb.blank("en").add_pipe("lemmatizer", config={"mode": "rule"})
    with pytest.raises(ValueError, match="requires the table"): lem.initialize(lookups={"lemma_lookup": {}})
    with pytest.raises(ValueError, match=r"lemma_exc\['noun'\]\['mice'\]: expected a list of lemma strings"):
        lem.initialize(lookups={"lemma_rules": {"noun": []}, "lemma_exc": {"noun": {"mice": "mouse"}}})
    with pytest.raises(ValueError, match="needs tables"): lem.initialize()
