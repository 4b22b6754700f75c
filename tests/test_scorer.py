"""Scores on real data: predicted Docs made by perturbing gold UD English EWT, WikiANN and SST-2 dev Docs
deterministically (wrong tags, re-attached heads, merged sentences, dropped, shifted and relabelled entities,
split and merged tokens, gold annotation partly removed).

Every score is checked against a count made here directly, with its own character-offset alignment; and, when
an interpreter with spaCy 3.8 is found (NLPNB_SPACY_PYTHON, else benchmarks/.venv, else /work/spacy-venv),
against spaCy's scorer run on the same Docs, saved with our DocBin: the results must be equal, float for float.
"""
import bisect, json, os, subprocess
from collections import defaultdict
from itertools import islice
from pathlib import Path

import numpy as np
import pytest

from nlpnb.registry import registry
from nlpnb.scorer import PRFScore, Scorer, get_ner_prf, roc_auc_score
from nlpnb.symbols import ENT_IOB, ENT_TYPE, MORPH, SENT_START
from nlpnb.tokens import Doc, DocBin, Span
from nlpnb.training import Example
from nlpnb.training.converters import read_conllu, read_iob
from nlpnb.vocab import Vocab

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
EWT_DEV, WIKIANN_DEV, SST2_DEV = DATA / "ud_en_ewt" / "en_ewt-ud-dev.conllu", DATA / "wikiann_en" / "dev.iob", DATA / "sst2" / "dev.tsv"
VOCAB = Vocab()
EMPTY_MORPH = VOCAB.strings.add("_")   # the key spaCy stores for "annotated: no features"


# -- building predicted Docs ---------------------------------------------------------------------------------

def retokenize(doc: Doc, split: set, merge: set) -> Doc:
    "A copy of `doc` with each token in `split` cut after two characters and each `i` in `merge` joined with "
    "`i + 1` (when no space separates them); token annotations, the parse, entities and spans are carried over."
    units, i = [], 0   # (word, space, gold indices)
    while i < len(doc):
        t = doc[i]
        if i in merge and i + 1 < len(doc) and not t.whitespace_ and i + 1 not in split and doc[i + 1].sent.start == t.sent.start:
            units.append((t.text + doc[i + 1].text, bool(doc[i + 1].whitespace_), [i, i + 1])); i += 2
        elif i in split and len(t.text) >= 4:
            units += [(t.text[:2], False, [i]), (t.text[2:], bool(t.whitespace_), [i])]; i += 1
        else:
            units.append((t.text, bool(t.whitespace_), [i])); i += 1
    unit_of = {g: u for u, (_, _, gs) in enumerate(units) for g in gs}   # the last unit holding each gold token
    first = [doc[gs[0]] for _, _, gs in units]
    kw = {"tags": [t.tag_ for t in first], "pos": [t.pos_ for t in first], "lemmas": [t.lemma_ for t in first],
          "morphs": [str(t.morph) for t in first]}
    if doc.has_annotation("DEP"):
        depth = [len(list(t.ancestors)) for t in doc]
        heads, deps = [], []
        for u, (_, _, gs) in enumerate(units):
            if unit_of[gs[0]] != u: heads.append(u + 1); deps.append("compound"); continue   # first piece of a split token
            top = min(gs, key=depth.__getitem__)
            heads.append(u if doc[top].head.i in gs else unit_of[doc[top].head.i]); deps.append(doc[top].dep_)
        kw.update(heads=heads, deps=deps)
    out = Doc(doc.vocab, [w for w, _, _ in units], [s for _, s, _ in units], **kw)
    if doc.has_annotation("ENT_IOB"): out.ents = [s for s in (out.char_span(e.start_char, e.end_char, e.label_) for e in doc.ents) if s]
    for key, group in doc.spans.items():
        out.spans[key] = [s for s in (out.char_span(x.start_char, x.end_char, x.label_) for x in group) if s]
    out.cats = dict(doc.cats)
    return out


def perturb_ewt(gold: Doc, n: int) -> Doc:
    "Wrong tags, POS, features, lemmas and labels at fixed strides; heads moved to grandparents; every third Doc "
    "has pairs of sentences merged into one by attaching a root to the previous sentence's root."
    pred = gold.copy()
    for t in pred:
        k = t.i + n
        if k % 7 == 3: t.tag_ = "NN" if t.tag_ != "NN" else "VB"
        if k % 5 == 1: t.pos_ = "NOUN" if t.pos_ != "NOUN" else "VERB"
        if k % 9 == 4: t.set_morph("Number=Plur" if str(t.morph) != "Number=Plur" else "")
        if k % 17 == 2 and str(t.morph): t.set_morph(str(t.morph) + "|Foreign=Yes")
        if k % 6 == 5: t.lemma_ = t.text
        if k % 13 == 6: t.dep_ = "dep"
    for t in pred:
        if (t.i + n) % 11 == 0 and t.head.i != t.i and t.head.head.i != t.head.i: t.head = t.head.head
    if n % 3 == 0:
        roots = [t for t in pred if t.head.i == t.i]
        for a, b in zip(roots[::2], roots[1::2]): b.head, b.dep_ = a, "parataxis"
    # Sentences follow the edited parse (as in spaCy, where setting a head recomputes them); the explicit
    # starts copied from the CoNLL-U gold would otherwise win.
    pred.from_array([SENT_START], np.zeros(len(pred), dtype=np.uint64))
    return pred


def partial_ewt(gold: Doc, n: int) -> Doc:
    "A gold Doc with some annotation removed: tags, POS, lemmas and features of some tokens, and (in the last "
    "Doc only, see test_deps_missing_annotation_is_per_document) some dependency labels."
    doc = gold.copy()
    for t in doc:
        if t.i % 4 == 1: t.tag_ = ""
        if t.i % 6 == 2: t.pos_ = ""
        if t.i % 5 == 3: t.lemma_ = ""
        if t.i % 7 == 0: t.set_morph("")
    return doc


def without_deps(doc: Doc, every: int) -> Doc:
    doc = doc.copy()
    for t in doc:
        if t.i % every == 1: t.dep_ = ""
    return doc


def mark_empty_morph(doc: Doc, wrong_every: int = 0) -> Doc:
    "Tokens with no features marked as annotated-empty (the `_` key, as spaCy's converter writes); some made wrong."
    doc = doc.copy()
    col = doc.to_array(MORPH)
    for i in range(len(doc)):
        if col[i] == 0: col[i] = EMPTY_MORPH if not wrong_every or i % wrong_every else VOCAB.strings.add("Number=Sing")
    doc.from_array([MORPH], col)
    return doc


def perturb_ents(gold: Doc, n: int) -> Doc:
    "Entities dropped, relabelled, extended by a token, shortened, and a spurious MISC entity in some Docs."
    pred, out = gold.copy(), []
    relabel = {"PER": "ORG", "ORG": "LOC", "LOC": "PER"}
    ents = list(gold.ents)
    for k, e in enumerate(ents):
        k += n
        start, end, label = e.start, e.end, e.label_
        if k % 5 == 0: continue
        if k % 7 == 1: label = relabel.get(label, label)
        if k % 9 == 2 and end < len(gold) and gold[end].ent_iob_ == "O": end += 1
        if k % 11 == 3 and end - start > 1: start += 1
        out.append(Span(pred, start, end, label))
    if n % 13 == 0:
        free = [t.i for t in gold if t.ent_iob_ == "O" and all(not (s.start <= t.i < s.end) for s in out)]
        if free: out.append(Span(pred, free[0], free[0] + 1, "MISC"))
    pred.ents = out
    return pred


def partial_ents(gold: Doc, n: int) -> Doc:
    "Every 6th Doc loses the entity annotation of its last entity and the token after it; every 25th all of it."
    doc = gold.copy()
    cols = doc.to_array([ENT_IOB, ENT_TYPE])
    if n % 25 == 0: cols[:] = 0
    elif n % 6 == 0 and doc.ents:
        e = doc.ents[-1]
        cols[e.start:e.end + 1] = 0
    doc.from_array([ENT_IOB, ENT_TYPE], cols)
    return doc


def with_spans(doc: Doc, n: int, shift: bool) -> Doc:
    "doc.spans['sc']: the entities plus, overlapping them, the first token of each multi-token entity; "
    "shifted by one token when `shift` and `n` says so. Every 10th Doc has no 'sc' group at all."
    doc = doc.copy()
    if n % 10 == 0: return doc
    spans = []
    for k, e in enumerate(doc.ents):
        start = e.start + 1 if shift and (n + k) % 4 == 0 and len(e) > 1 else e.start
        spans.append(Span(doc, start, e.end, e.label_))
        if len(e) > 1 and not (shift and (n + k) % 3 == 0): spans.append(Span(doc, e.start, e.start + 1, "PART"))
    doc.spans["sc"] = spans
    return doc


def read_ewt():
    "Pairs (predicted, gold): 10-sentence EWT Docs, some retokenized, some with partial gold, all with the parse."
    golds = list(read_conllu(EWT_DEV, VOCAB, n_sents=10))
    preds, refs = [], []
    for n, gold in enumerate(golds):
        pred = perturb_ewt(gold, n)
        if n % 4 == 2: gold, pred = mark_empty_morph(gold), mark_empty_morph(pred, wrong_every=5)
        if n % 5 == 1: gold = partial_ewt(gold, n)
        if n == len(golds) - 1: gold = without_deps(gold, 8)
        if n % 10 == 3: pred = retokenize(pred, split={i for i in range(len(pred)) if i % 5 == 1},
                                          merge={i for i in range(len(pred)) if i % 4 == 0})
        preds.append(pred); refs.append(gold)
    return preds, refs


def read_senter():
    "EWT sentences as explicit sentence starts without a parse: some boundaries dropped, some invented."
    preds, refs = [], []
    for n, gold in enumerate(islice(read_conllu(EWT_DEV, VOCAB, n_sents=10), 120)):
        starts, spaces = [t.is_sent_start for t in gold], [bool(t.whitespace_) for t in gold]
        guess = [s if not (s and (i + n) % 3 == 0) else False for i, s in enumerate(starts)]
        for i in range(5, len(guess), 97): guess[i] = True
        guess[0] = True
        ref = Doc(VOCAB, gold.words, spaces, sent_starts=starts) if n % 7 else Doc(VOCAB, gold.words, spaces)  # no gold: skipped
        preds.append(Doc(VOCAB, gold.words, spaces, sent_starts=guess)); refs.append(ref)
    return preds, refs


def read_wikiann(n_docs=2000, n_spans=600):
    "WikiANN dev sentences with perturbed entities, partial gold entities, span groups (in the first `n_spans`), "
    "some retokenized."
    preds, refs = [], []
    for n, gold in enumerate(islice(read_iob(WIKIANN_DEV, VOCAB), n_docs)):
        pred, gold = perturb_ents(gold, n), partial_ents(gold, n)
        if n < n_spans: pred, gold = with_spans(pred, n, shift=True), with_spans(gold, n, shift=False)
        if n % 8 == 5: pred = retokenize(pred, split={i for i in range(len(pred)) if i % 3 == 0}, merge=set())
        preds.append(pred); refs.append(gold)
    return preds, refs


def read_sst2(n_docs=2000):
    "SST-2 dev phrases: gold POSITIVE/NEGATIVE (and LONG, known for two thirds), predicted scores from a fixed hash."
    preds, refs = [], []
    for n, line in enumerate(SST2_DEV.read_text(encoding="utf8").splitlines()[1:n_docs + 1]):
        text, label = line.rsplit("\t", 1)
        words = text.split() or ["."]
        ref, pred = Doc(VOCAB, words), Doc(VOCAB, words)
        pos = float(label == "1")
        ref.cats = {"POSITIVE": pos, "NEGATIVE": 1.0 - pos}
        if n % 3: ref.cats["LONG"] = float(len(words) > 10)
        score = ((n * 7919) % 1000) / 1000 if n % 4 else (pos * 0.6 + 0.2)   # a quarter are informed guesses
        pred.cats = {"POSITIVE": score, "NEGATIVE": 1 - score, "LONG": min(1.0, len(words) / 20)}
        preds.append(pred); refs.append(ref)
    return preds, refs


# -- the cases, and spaCy --------------------------------------------------------------------------------------

# Each case: data set, then a scorer: ["registry", name, kwargs], ["static", method, attr, kwargs] or ["Scorer", kwargs].
CASES = {
    "tokens": ["ewt", ["static", "score_tokenization", None, {}]],
    "tagger": ["ewt", ["registry", "tagger_scorer.v1", {}]],
    "morphologizer": ["ewt", ["registry", "morphologizer_scorer.v1", {}]],
    "lemmatizer": ["ewt", ["registry", "lemmatizer_scorer.v1", {}]],
    "parser": ["ewt", ["registry", "parser_scorer.v1", {}]],
    "tag_strings": ["ewt", ["static", "score_token_attr", "tag_", {}]],
    "deps_plain": ["ewt", ["static", "score_deps", "dep_", {"ignore_labels": ["punct"]}]],
    "default_scorer": ["ewt", ["Scorer", {}]],
    "senter": ["senter", ["registry", "senter_scorer.v1", {}]],
    "ner": ["wikiann", ["registry", "ner_scorer.v1", {}]],
    "ents_spans": ["wikiann", ["static", "score_spans", "ents", {}]],
    "ents_unlabeled": ["wikiann", ["static", "score_spans", "ents", {"labeled": False}]],
    "wikiann_tokens": ["wikiann", ["static", "score_tokenization", None, {}]],
    "spancat": ["wikiann", ["registry", "spancat_scorer.v1", {"spans_key": "sc", "labels": ["PER", "LOC"], "threshold": 0.5}]],
    "textcat_binary": ["sst2", ["registry", "textcat_scorer.v2", {"labels": ["POSITIVE", "NEGATIVE"], "positive_label": "POSITIVE"}]],
    "textcat_macro": ["sst2", ["registry", "textcat_scorer.v1", {"labels": ["POSITIVE", "NEGATIVE", "LONG"], "threshold": 0.0}]],
    "textcat_multi": ["sst2", ["registry", "textcat_multilabel_scorer.v1", {"labels": ["POSITIVE", "NEGATIVE", "LONG"]}]],
    "textcat_multi_t": ["sst2", ["registry", "textcat_multilabel_scorer.v2", {"labels": ["LONG", "POSITIVE", "MISSING"], "threshold": 0.3}]],
}

SPACY_SCRIPT = """
import json, sys
import spacy
from spacy.scorer import Scorer
from spacy.tokens import DocBin
from spacy.training import Example
from spacy.util import registry
folder, cases = sys.argv[1], json.loads(sys.argv[2])
nlp = spacy.blank("en")
def load(name): return list(DocBin().from_disk(f"{folder}/{name}.spacy").get_docs(nlp.vocab))
data, out = {}, {}
for name, (dataset, (kind, *args)) in cases.items():
    if dataset not in data: data[dataset] = [Example(p, g) for p, g in zip(load(dataset + "_pred"), load(dataset + "_gold"))]
    egs = data[dataset]
    if kind == "registry": out[name] = registry.scorers.get("spacy." + args[0])()(egs, **args[1])
    elif kind == "static": out[name] = getattr(Scorer, args[0])(egs, *([args[1]] if args[1] else []), **args[2])
    else: out[name] = Scorer(**args[0]).score(egs)
# test_deps_missing_annotation_is_per_document: one gold label missing in the first of two documents
from spacy.tokens import Doc
words, full, partial = ["I", "like", "eggs", "."], ["nsubj", "ROOT", "obj", "punct"], ["nsubj", "ROOT", "", "punct"]
def doc(deps): return Doc(nlp.vocab, words, heads=[1, 1, 1, 1], deps=deps)
out["_two_docs"] = Scorer.score_deps([Example(doc(full), doc(partial)), Example(doc(full), doc(full))], "dep_")
json.dump(out, sys.stdout)
"""


def spacy_python():
    env = os.environ.get("NLPNB_SPACY_PYTHON")
    for p in ([Path(env)] if env else []) + [ROOT / "benchmarks" / ".venv" / "bin" / "python", Path("/work/spacy-venv/bin/python")]:
        if p.exists() and subprocess.run([str(p), "-c", "import spacy"], capture_output=True).returncode == 0: return p
    return None


def run_case(egs, kind, *args):
    if kind == "registry": return registry.get("scorers", "nlpnb." + args[0])()(egs, **args[1])
    if kind == "static": return getattr(Scorer, args[0])(egs, *([args[1]] if args[1] else []), **args[2])
    return Scorer(**args[0]).score(egs)


class Data:
    "The four data sets, our score for each case (computed once), and spaCy's (computed in a background process)."
    def __init__(self, folder: Path):
        self.pairs = {"ewt": read_ewt(), "senter": read_senter(), "wikiann": read_wikiann(), "sst2": read_sst2()}
        self.examples = {name: examples(pair) for name, pair in self.pairs.items()}
        self._ours, self._spacy, self.spacy_proc = {}, None, None
        py = spacy_python()
        if py is None: return
        for name, (preds, golds) in self.pairs.items():
            for suffix, docs in (("pred", preds), ("gold", golds)):
                db = DocBin()
                for d in docs: db.add(d)
                db.to_disk(folder / f"{name}_{suffix}.spacy")
        self.spacy_proc = subprocess.Popen([str(py), "-c", SPACY_SCRIPT, str(folder), json.dumps(CASES)],
                                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def __getitem__(self, name: str): return self.pairs[name]

    def ours(self, case: str) -> dict:
        if case not in self._ours:
            dataset, call = CASES[case]
            self._ours[case] = run_case(self.examples[dataset], *call)
        return self._ours[case]

    def spacy(self) -> dict:
        if self._spacy is None:
            out, err = self.spacy_proc.communicate(timeout=600)
            assert self.spacy_proc.returncode == 0, err[-3000:]
            self._spacy = json.loads(out)
        return self._spacy


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    if not (EWT_DEV.exists() and WIKIANN_DEV.exists() and SST2_DEV.exists()): pytest.skip("../shared/data is missing")
    d = Data(tmp_path_factory.mktemp("scorer"))
    yield d
    if d.spacy_proc is not None and d.spacy_proc.poll() is None: d.spacy_proc.kill()


def examples(pair):
    return [Example(p, g) for p, g in zip(*pair)]


# -- direct counts ---------------------------------------------------------------------------------------------

def prf(tp, fp, fn):
    p, r = tp / (tp + fp) if tp + fp else 0.0, tp / (tp + fn) if tp + fn else 0.0
    return {"p": p, "r": r, "f": 2 * p * r / (p + r) if p + r else 0.0}


def overlaps(pred: Doc, gold: Doc):
    "For each predicted token, the gold tokens sharing characters with it (the texts are the same; spaces are not characters)."
    def chars(doc):
        out, k = [], 0
        for t in doc:
            out.append((k, k + len(t.text.replace(" ", "")))); k = out[-1][1]
        return out
    g = chars(gold)
    starts = [a for a, _ in g]
    out = []
    for a, b in chars(pred):
        j = max(bisect.bisect_right(starts, a) - 1, 0)
        hit = []
        while j < len(g) and g[j][0] < b:
            if g[j][1] > a: hit.append(j)
            j += 1
        out.append(hit)
    return out


def one_gold(pred, gold):
    return [h[0] if len(h) == 1 else None for h in overlaps(pred, gold)]


def count_attr(pairs, get, missing=(0, "", None)):
    "tp, fp, fn of (gold token, value) for one token attribute."
    tp = fp = fn = 0
    for pred, gold in zip(*pairs):
        gvals = [get(t) for t in gold]
        guesses = defaultdict(set)
        for t, g in zip(pred, one_gold(pred, gold)):
            if g is not None and gvals[g] not in missing: guesses[g].add(get(t))
        for g, v in enumerate(gvals):
            if v in missing: continue
            right = v in guesses[g]
            tp += right; fn += not right; fp += len(guesses[g]) - right
    return tp, fp, fn


def feats(key):
    s = VOCAB.strings[key] if key else ""
    return [] if s in ("", "_") else s.split("|")


def count_per_feat(pairs):
    per = defaultdict(lambda: [0, 0, 0])
    for pred, gold in zip(*pairs):
        graw, praw = gold.to_array(MORPH), pred.to_array(MORPH)
        guesses = defaultdict(set)
        for i, g in enumerate(one_gold(pred, gold)):
            if g is not None and feats(graw[g]): guesses[g].update(feats(praw[i]))
        for g in range(len(gold)):
            gf = set(feats(graw[g]))
            if not gf: continue
            for f in gf: per[f.split("=")[0]][0 if f in guesses[g] else 2] += 1
            for f in guesses[g] - gf: per[f.split("=")[0]][1] += 1
    return per


def aligned_span(pred_span, x2g, used, allow_overlap):
    "The gold (start, end) a predicted span moves to, or None where its characters don't match gold tokens exactly."
    hit = sorted({g for i in range(pred_span.start, pred_span.end) for g in x2g[i]})
    if not allow_overlap: hit = [g for g in hit if g not in used]
    return (hit[0], hit[-1] + 1) if hit else None


def count_spans(pairs, get, annotated=None, labeled=True, allow_overlap=False):
    "tp, fp, fn of spans, and per label, aligning predicted spans by characters."
    total, per = [0, 0, 0], defaultdict(lambda: [0, 0, 0])
    for pred, gold in zip(*pairs):
        if annotated and not annotated(gold): continue
        x2g = overlaps(pred, gold)
        key = (lambda l, s, e: (l, s, e)) if labeled else (lambda l, s, e: (s, e))
        gold_keys = {key(s.label_, s.start, s.end) for s in get(gold)}
        pred_keys, used = set(), set()
        if not annotated or annotated(pred):
            for s in get(pred):
                m = aligned_span(s, x2g, used, allow_overlap)
                if m and gold.text[gold[m[0]].idx:gold[m[1] - 1].idx + len(gold[m[1] - 1])].replace(" ", "").lower() == s.text.replace(" ", "").lower():
                    pred_keys.add(key(s.label_, *m)); used.update(range(*m))
        total[0] += len(pred_keys & gold_keys); total[1] += len(pred_keys - gold_keys); total[2] += len(gold_keys - pred_keys)
        if labeled:
            for k in pred_keys | gold_keys:
                per[k[0]][0 if k in pred_keys and k in gold_keys else 1 if k in pred_keys else 2] += 1
            for s in list(get(gold)) + (list(get(pred)) if not annotated or annotated(pred) else []): per[s.label_]
    return total, per


def count_ner(pairs):
    per = defaultdict(lambda: [0, 0, 0])
    for pred, gold in zip(*pairs):
        if not any(t.ent_iob for t in gold): continue
        x2g = overlaps(pred, gold)
        golds = {(e.label_, e.start, e.end) for e in gold.ents}
        for e in pred.ents:
            per[e.label_]
            hit = sorted({g for i in range(e.start, e.end) for g in x2g[i]})
            if not hit or any(gold[g].ent_iob == 0 for g in range(hit[0], hit[-1] + 1)): continue
            k = (e.label_, hit[0], hit[-1] + 1)
            per[e.label_][0 if k in golds else 1] += 1
            golds.discard(k)
        for label, _, _ in golds: per[label][2] += 1
    return per


def count_deps(pairs, ignore=("p", "punct"), lower=True):
    "tp, fp, fn of (token, head) and (token, head, label) arcs on gold tokens, labels lower-cased by default."
    uas, las = [0, 0, 0], [0, 0, 0]
    label = (lambda t: t.dep_.lower()) if lower else (lambda t: t.dep_)
    for pred, gold in zip(*pairs):
        x2g = one_gold(pred, gold)
        missing = {t.i for t in gold if not t.dep_}
        g_arcs = {(t.i, t.head.i, label(t)) for t in gold if t.dep_ and label(t) not in ignore}
        p_arcs, lost = set(), 0
        for t in pred:
            g = x2g[t.i]
            if g in missing or label(t) in ignore: continue
            if g is None or x2g[t.head.i] is None: lost += 1
            else: p_arcs.add((g, x2g[t.head.i], label(t)))
        for acc, P, G in ((las, p_arcs, g_arcs), (uas, {a[:2] for a in p_arcs}, {a[:2] for a in g_arcs})):
            acc[0] += len(P & G); acc[1] += len(P - G) + lost; acc[2] += len(G - P)
    return uas, las


def close(got, want):
    "Scores computed here add the same counts in another order: equal up to rounding."
    if isinstance(want, dict):
        assert set(got) == set(want), (set(got) ^ set(want))
        for k in want: close(got[k], want[k])
    elif isinstance(want, (tuple, list)):
        assert len(got) == len(want)
        for g, w in zip(got, want): close(g, w)
    elif want is None or isinstance(want, str): assert got == want
    else: assert got == pytest.approx(want, rel=1e-12, abs=1e-15)


# -- against direct counts -------------------------------------------------------------------------------------

def test_data_has_what_the_tests_need(data):
    "Different tokenizations, partial gold annotation and annotated-empty features are all in the data."
    for name in ("ewt", "wikiann"):
        assert sum(p.words != g.words for p, g in zip(*data[name])) >= 20
    ewt_gold, wiki_gold = data["ewt"][1], data["wikiann"][1]
    assert sum(not all(t.tag_ for t in g) for g in ewt_gold) >= 20 and not all(t.dep_ for t in ewt_gold[-1])
    assert sum(EMPTY_MORPH in g.to_array(MORPH) for g in ewt_gold) >= 20
    assert sum(not g.has_annotation("ENT_IOB") for g in wiki_gold) >= 20
    assert sum(g.has_annotation("ENT_IOB") and not g.has_annotation("ENT_IOB", require_complete=True) for g in wiki_gold) >= 100
    assert sum("sc" not in g.spans for g in wiki_gold[:600]) >= 20
    assert sum("LONG" not in g.cats for g in data["sst2"][1]) >= 100


def test_token_scores_against_counts(data):
    ewt = data["ewt"]
    tagger, morph, lemma = data.ours("tagger"), data.ours("morphologizer"), data.ours("lemmatizer")
    for got, get in ((tagger["tag_acc"], lambda t: t.tag_), (morph["pos_acc"], lambda t: t.pos_), (lemma["lemma_acc"], lambda t: t.lemma_)):
        want = prf(*count_attr(ewt, get))["f"]
        close(got, want)
        assert 0.6 < want < 1.0
    close(data.ours("tag_strings")["tag__acc"], tagger["tag_acc"])
    keys = [(d.to_array(MORPH).tolist(), g.to_array(MORPH).tolist()) for d, g in zip(*ewt)]
    tp = fp = fn = 0
    for (pred, gold), (pk, gk) in zip(zip(*ewt), keys):
        guesses = defaultdict(set)
        for i, g in enumerate(one_gold(pred, gold)):
            if g is not None and gk[g]: guesses[g].add(pk[i])
        for g in range(len(gold)):
            if not gk[g]: continue
            right = gk[g] in guesses[g]
            tp += right; fn += not right; fp += len(guesses[g]) - right
    close(morph["morph_acc"], prf(tp, fp, fn)["f"])
    per = count_per_feat(ewt)
    close(morph["morph_per_feat"], {k: prf(*v) for k, v in per.items()})
    close(morph["morph_micro_f"], prf(*[sum(v[i] for v in per.values()) for i in range(3)])["f"])
    assert "Foreign" in morph["morph_per_feat"] and morph["morph_acc"] < morph["morph_micro_f"] < 1.0


def test_tokenization_against_counts(data):
    n = right = p_offsets = g_offsets = shared = 0
    for pred, gold in zip(*data["ewt"]):
        hits = overlaps(pred, gold)
        n += len(pred); right += sum(len(h) == 1 for h in hits)
        P, G = {(t.idx, t.idx + len(t)) for t in pred}, {(t.idx, t.idx + len(t)) for t in gold}
        p_offsets += len(P); g_offsets += len(G); shared += len(P & G)
    got = data.ours("tokens")
    close(got, {"token_acc": right / n, "token_p": shared / p_offsets, "token_r": shared / g_offsets,
                "token_f": prf(shared, p_offsets - shared, g_offsets - shared)["f"]})
    assert got["token_acc"] < 1.0
    assert data.ours("wikiann_tokens")["token_acc"] is None   # WikiANN has no whitespace information


def test_parser_against_counts(data):
    got = data.ours("parser")
    uas, las = count_deps(data["ewt"])
    close((got["dep_uas"], got["dep_las"]), (prf(*uas)["f"], prf(*las)["f"]))
    (tp, fp, fn), _ = count_spans(data["ewt"], lambda d: d.sents, annotated=lambda d: d.has_annotation("SENT_START"), labeled=False)
    close({k: got[k] for k in ("sents_p", "sents_r", "sents_f")}, {f"sents_{k}": v for k, v in prf(tp, fp, fn).items()})
    assert 0.5 < got["dep_las"] < got["dep_uas"] < 1.0 and got["sents_f"] < 1.0
    assert "punct" not in got["dep_las_per_type"] and "parataxis" in got["dep_las_per_type"]
    uas, las = count_deps(data["ewt"], ignore=("punct",), lower=False)
    close((data.ours("deps_plain")["dep__uas"], data.ours("deps_plain")["dep__las"]), (prf(*uas)["f"], prf(*las)["f"]))


def test_senter_against_counts(data):
    got = data.ours("senter")
    (tp, fp, fn), _ = count_spans(data["senter"], lambda d: d.sents, annotated=lambda d: d.has_annotation("SENT_START"), labeled=False)
    close(got, {f"sents_{k}": v for k, v in prf(tp, fp, fn).items()})
    assert 0.3 < got["sents_f"] < 1.0


def test_entities_against_counts(data):
    wikiann = data["wikiann"]
    per = count_ner(wikiann)
    want = {f"ents_{k}": v for k, v in prf(*[sum(v[i] for v in per.values()) for i in range(3)]).items()}
    want["ents_per_type"] = {k: prf(*v) for k, v in per.items()}
    close(data.ours("ner"), want)
    close(get_ner_prf(data.examples["wikiann"]), want)
    assert set(want["ents_per_type"]) == {"PER", "ORG", "LOC", "MISC"} and 0.5 < want["ents_f"] < 1.0
    for case, labeled in (("ents_spans", True), ("ents_unlabeled", False)):
        (tp, fp, fn), per = count_spans(wikiann, lambda d: d.ents, labeled=labeled)
        want = {f"ents_{k}": v for k, v in prf(tp, fp, fn).items()}
        if labeled: want["ents_per_type"] = {k: prf(*v) for k, v in per.items()}
        close(data.ours(case), want)
    has_ents = lambda d: d.has_annotation("ENT_IOB")   # skips the Docs without gold entities
    (tp, fp, fn), per = count_spans(wikiann, lambda d: d.ents, annotated=has_ents)
    close(Scorer.score_spans(data.examples["wikiann"], "ents", has_annotation=has_ents)["ents_f"], prf(tp, fp, fn)["f"])


def test_spancat_against_counts(data):
    got = data.ours("spancat")
    (tp, fp, fn), per = count_spans(data["wikiann"], lambda d: d.spans.get("sc", []), annotated=lambda d: "sc" in d.spans, allow_overlap=True)
    want = {f"spans_sc_{k}": v for k, v in prf(tp, fp, fn).items()}
    want["spans_sc_per_type"] = {k: prf(*v) for k, v in per.items()}
    close(got, want)
    assert "PART" in got["spans_sc_per_type"] and 0.5 < got["spans_sc_f"] < 1.0


def auc_by_pairs(golds, cands):
    "The chance that a positive outscores a negative, ties counting half."
    pos = [c for g, c in zip(golds, cands) if g == 1.0]
    neg = [c for g, c in zip(golds, cands) if g != 1.0]
    return sum((p > n) + 0.5 * (p == n) for p in pos for n in neg) / (len(pos) * len(neg))


def exclusive_counts(pairs, labels):
    per = {k: [0, 0, 0] for k in labels}
    top = lambda cats: max((k for k in cats if k in labels), key=cats.get)   # the first of equal scores
    for pred, gold in zip(*pairs):
        p, g = top(pred.cats), top(gold.cats)
        if p == g: per[p][0] += 1
        else: per[p][1] += 1; per[g][2] += 1
    return per


def test_cats_against_counts(data):
    sst2 = data["sst2"]
    per = exclusive_counts(sst2, ["POSITIVE", "NEGATIVE"])
    got = data.ours("textcat_binary")
    close(got["cats_f_per_type"], {k: prf(*v) for k, v in per.items()})
    close((got["cats_score"], got["cats_score_desc"]), (prf(*per["POSITIVE"])["f"], "F (POSITIVE)"))
    close(got["cats_macro_f"], sum(prf(*v)["f"] for v in per.values()) / 2)
    close(got["cats_auc_per_type"]["POSITIVE"], auc_by_pairs([g.cats["POSITIVE"] for g in sst2[1]], [p.cats["POSITIVE"] for p in sst2[0]]))
    per = exclusive_counts(sst2, ["POSITIVE", "NEGATIVE", "LONG"])
    got = data.ours("textcat_macro")
    close((got["cats_score"], got["cats_score_desc"]), (sum(prf(*v)["f"] for v in per.values()) / 3, "macro F"))
    auc_long = auc_by_pairs([g.cats.get("LONG", 0.0) for g in sst2[1]], [p.cats["LONG"] for p in sst2[0]])   # missing is 0 here
    close(got["cats_auc_per_type"]["LONG"], auc_long)
    for case, labels, threshold in (("textcat_multi", ["POSITIVE", "NEGATIVE", "LONG"], 0.5), ("textcat_multi_t", ["LONG", "POSITIVE", "MISSING"], 0.3)):
        per = {k: [0, 0, 0] for k in labels}
        for pred, gold in zip(*sst2):
            for k in labels:
                if k not in gold.cats: continue   # unknown, not negative
                yes, g = pred.cats.get(k, 0.0) >= threshold, gold.cats[k] > 0
                if yes or g: per[k][0 if yes and g else 1 if yes else 2] += 1
        got = data.ours(case)
        close(got["cats_f_per_type"], {k: prf(*v) for k, v in per.items()})
        aucs = {k: auc_by_pairs(*zip(*[(g.cats[k], p.cats[k]) for p, g in zip(*sst2) if k in g.cats])) if k != "MISSING" else None
                for k in labels}
        close(got["cats_auc_per_type"], aucs)
        macro = sum(a or 0.0 for a in aucs.values()) / 3
        close((got["cats_score"], got["cats_macro_auc"], got["cats_score_desc"]), (macro, macro, "macro AUC"))


def test_default_scorer_is_its_components(data):
    "Scorer() without a pipeline reports what the default components' scorers report."
    got, want = data.ours("default_scorer"), {}
    for case in ("tokens", "parser", "tagger", "morphologizer"): want.update(data.ours(case))
    want.update(Scorer.score_spans(data.examples["ewt"], "ents"), ents_per_type=None)
    want.update(registry.get("scorers", "nlpnb.textcat_scorer.v1")()(data.examples["ewt"], labels=()))
    assert got == want


def test_roc_auc_against_pair_counts():
    import random
    r = random.Random(3)
    for _ in range(200):
        n = r.randint(2, 40)
        golds = [float(r.random() < 0.4) for _ in range(n)]
        if len(set(golds)) < 2: golds[0], golds[1] = 0.0, 1.0
        cands = [r.choice([0.1, 0.2, 0.5, 0.7, r.random()]) for _ in range(n)]
        assert roc_auc_score(golds, cands) == pytest.approx(auc_by_pairs(golds, cands), abs=1e-12)


def test_prf_score_adds_up():
    a, b = PRFScore(tp=3, fp=1), PRFScore(fn=2)
    a += b
    assert (a.tp, a.fp, a.fn, len(a)) == (3, 1, 2, 6)
    assert (a + PRFScore(tp=1)).to_dict() == pytest.approx({"p": 0.8, "r": 2 / 3, "f": 2 * 0.8 * (2 / 3) / (0.8 + 2 / 3)})


# -- against spaCy ---------------------------------------------------------------------------------------------

def as_json(x): return json.loads(json.dumps(x))


def test_scores_equal_spacy(data):
    "Every case, every number (per type and per feature included), equal to spaCy's on the same Docs."
    if data.spacy_proc is None: pytest.skip("no interpreter with spaCy 3.8 (NLPNB_SPACY_PYTHON, benchmarks/.venv)")
    theirs = data.spacy()
    differ = {name: (as_json(data.ours(name)), theirs[name]) for name in CASES if as_json(data.ours(name)) != theirs[name]}
    assert not differ, json.dumps(differ, indent=1)[:5000]
    assert theirs["default_scorer"]["tag_acc"] < 1.0 and theirs["ner"]["ents_f"] < 1.0   # the data has errors to find


def test_deps_missing_annotation_is_per_document(data):
    "A gold token without a label is skipped in its own document only; spaCy 3.8 carries the skip into later ones."
    words = ["I", "like", "eggs", "."]
    doc = lambda deps: Doc(VOCAB, words, heads=[1, 1, 1, 1], deps=deps)
    full, partial = ["nsubj", "ROOT", "obj", "punct"], ["nsubj", "ROOT", None, "punct"]
    egs = [Example(doc(full), doc(partial)), Example(doc(full), doc(full))]
    got = Scorer.score_deps(egs, "dep_")
    assert (got["dep__uas"], got["dep__las"]) == (1.0, 1.0)   # 3 + 4 arcs, all right
    if data.spacy_proc is None: return
    theirs = data.spacy()["_two_docs"]
    assert theirs["dep__las"] == pytest.approx(2 * 1.0 * (6 / 7) / (1 + 6 / 7))   # "eggs" of document 2 counted as missed
