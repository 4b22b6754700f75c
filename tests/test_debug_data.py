"""`nlpnb debug data` on real corpora, its numbers checked against counts taken directly from the raw files,
and on a corpus with planted problems, which must come back as warnings and errors with exit status 1."""
import os, random, subprocess, sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import srsly

import nlpnb.cli.debug_data  # noqa: F401  (registers the command)
from nlpnb.cli import COMMAND_MODULES, run_cli
from nlpnb.config import load_config
from nlpnb.debug_data import CatsCheck, Section, Tally, debug_data, tree_problems
from nlpnb.symbols import ENT_IOB, ENT_TYPE, HEAD
from nlpnb.tokens import Doc, DocBin
from nlpnb.training.converters import convert
from nlpnb.vocab import Vocab

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
EWT = DATA / "ud_en_ewt"
WIKIANN = DATA / "wikiann_en"
SST2 = DATA / "sst2"
needs_data = pytest.mark.skipif(not DATA.exists(), reason="../shared/data is missing")


# -- helpers -------------------------------------------------------------------------------------------
def write_config(tmp: Path, train: Path, dev: Path, pipeline: str = "[]", components: str = "") -> Path:
    "A complete config for `train` and `dev`, filled by `nlpnb init fill-config`."
    (tmp / "base.cfg").write_text(f'[paths]\ntrain = "{train}"\ndev = "{dev}"\n\n[nlp]\nlang = "en"\npipeline = {pipeline}\n\n'
                                  f"[components]\n{components}")
    code, _, err = run_cli(["init", "fill-config", str(tmp / "base.cfg"), str(tmp / "config.cfg")])
    assert code == 0, err
    return tmp / "config.cfg"

def blocks(path: Path, start: int = 0, stop: int = None) -> list:
    "Sentences `start:stop` of a blank-line separated file, as lists of lines."
    text = path.read_text(encoding="utf8")
    return [b.splitlines() for b in text.split("\n\n") if b.strip()][start:stop]

def write_blocks(sents: list, path: Path) -> Path:
    path.write_text("\n\n".join("\n".join(s) for s in sents) + "\n", encoding="utf8")
    return path

def to_nlpnb(src: Path, out: Path) -> Path:
    return convert(src, out)[0].output


# -- independent counts from the raw CoNLL-U -------------------------------------------------------
def conllu_words(sent: list) -> list:
    "The 10 columns of each word line (integer ID) of a sentence."
    return [line.split("\t") for line in sent if line and not line.startswith("#") and line.split("\t")[0].isdigit()]

def is_nonprojective(heads: list) -> bool:
    "Direct definition: an arc h -> d is non-projective if a word strictly between them is not a descendant of h. "
    "`heads` are 1-based with 0 for the root, as in the file."
    def dominated(k: int, h: int) -> bool:
        while k != 0:
            if k == h: return True
            k = heads[k - 1]
        return False
    for d, h in enumerate(heads, 1):
        if h == 0: continue
        if any(not dominated(k, h) for k in range(min(h, d) + 1, max(h, d))): return True
    return False

def conllu_counts(sents: list) -> dict:
    words = [conllu_words(s) for s in sents]
    flat = [w for s in words for w in s]
    return {
        "sents": len(sents), "tokens": len(flat),
        "upos": Counter(w[3] for w in flat if w[3] != "_"), "xpos": Counter(w[4] for w in flat if w[4] != "_"),
        "deprel": Counter("ROOT" if w[7] == "root" else w[7] for w in flat),
        "feats": Counter("|".join(sorted(w[5].split("|"))) for w in flat),   # the Doc sorts features by name
        "nonproj": sum(is_nonprojective([int(w[6]) for w in s]) for s in words),
    }


@needs_data
def test_ewt_numbers_match_the_raw_file(tmp_path):
    dev_sents = blocks(EWT / "en_ewt-ud-dev.conllu")
    held = blocks(EWT / "en_ewt-ud-train.conllu", 0, 300)
    train_file = to_nlpnb(EWT / "en_ewt-ud-dev.conllu", tmp_path)
    dev_file = to_nlpnb(write_blocks(held, tmp_path / "held.conllu"), tmp_path)
    report = debug_data(load_config(write_config(tmp_path, train_file, dev_file)))
    raw, raw_dev = conllu_counts(dev_sents), conllu_counts(held)
    assert (raw["sents"], raw["tokens"]) == (2001, 25147)   # as the data README says

    corpus = report["corpus"].stats
    assert (corpus["train"]["docs"], corpus["train"]["words"], corpus["train"]["sents"]) == (raw["sents"], raw["tokens"], raw["sents"])
    assert (corpus["dev"]["docs"], corpus["dev"]["words"]) == (raw_dev["sents"], raw_dev["tokens"])
    assert report["pos"].stats["train_labels"] == dict(raw["upos"])
    assert report["tags"].stats["train_labels"] == dict(raw["xpos"])
    assert report["tags"].stats["dev_labels"] == dict(raw_dev["xpos"])
    assert report["morphs"].stats["train_labels"] == dict(raw["feats"])
    assert report["deps"].stats["train_labels"] == dict(raw["deprel"])
    deps = report["deps"].stats["train"]
    assert deps["nonproj_sents"] == raw["nonproj"] == 31
    assert (deps["sents"], deps["cycles"], deps["headless"], deps["outside"]) == (2001, 0, 0, 0)
    assert report["deps"].stats["dev"]["nonproj_sents"] == raw_dev["nonproj"]
    assert set(report["deps"].stats["unseen_labels"]) == set(raw_dev["deprel"]) - set(raw["deprel"])
    assert report["deps"].stats["rare_labels"] == {l: c for l, c in raw["deprel"].items() if c < 20}
    assert set(report["morphs"].stats["unseen_labels"]) == set(raw_dev["feats"]) - set(raw["feats"])
    assert report["pipeline"].stats["checked"] == ["tags", "pos", "morphs", "lemmas", "sents", "deps"]
    assert report.exit_code == 0 and not report.errors


@needs_data
def test_wikiann_entities_and_overlap_match_the_raw_files(tmp_path):
    train_sents, dev_sents = blocks(WIKIANN / "train.iob", 0, 3000), blocks(WIKIANN / "dev.iob", 0, 1000)
    train_file = to_nlpnb(write_blocks(train_sents, tmp_path / "train.iob"), tmp_path)
    dev_file = to_nlpnb(write_blocks(dev_sents, tmp_path / "dev.iob"), tmp_path)
    report = debug_data(load_config(write_config(tmp_path, train_file, dev_file)))

    def entities(sents):
        counts = Counter()
        for s in sents:
            prev = "O"
            for line in s:
                tag = line.split("\t")[-1]
                if tag.startswith("B-") or (tag.startswith("I-") and tag[2:] != prev[2:]): counts[tag[2:]] += 1
                prev = tag
        return counts
    def text(s): return " ".join(line.split("\t")[0].split(":", 1)[1] for line in s)

    assert report["ents"].stats["train_labels"] == dict(entities(train_sents))
    assert report["ents"].stats["dev_labels"] == dict(entities(dev_sents))
    train_texts = {text(s) for s in train_sents}
    assert report["corpus"].stats["overlap"] == sum(text(s) in train_texts for s in dev_sents)
    assert report["corpus"].stats["train"]["words"] == sum(map(len, train_sents))
    assert report["ents"].stats["train"]["misaligned"] == 0 and report["ents"].stats["unseen_labels"] == {}
    assert report["pipeline"].stats["checked"] == ["sents", "ents"]


@needs_data
def test_sst2_categories_match_the_raw_file(tmp_path):
    rows = [line.rsplit("\t", 1) for line in (SST2 / "dev.tsv").read_text(encoding="utf8").splitlines()[1:]]
    def jsonl(part, name):
        srsly.write_jsonl(tmp_path / name, [{"text": s, "cats": {"POSITIVE": float(l == "1"), "NEGATIVE": float(l == "0")}} for s, l in part])
        return to_nlpnb(tmp_path / name, tmp_path)
    train, dev = rows[:800], rows[800:1000]
    report = debug_data(load_config(write_config(tmp_path, jsonl(train, "train.jsonl"), jsonl(dev, "dev.jsonl"))))
    positives = Counter("POSITIVE" if l == "1" else "NEGATIVE" for _, l in train)
    assert report["cats"].stats["train_labels"] == dict(positives)
    assert report["cats"].stats["exclusive"] is True and report["cats"].stats["train"]["docs"] == 800
    assert report["pipeline"].stats["checked"] == ["cats"] and report.exit_code == 0


# -- planted problems --------------------------------------------------------------------------------
@pytest.fixture
def planted(tmp_path):
    "A train corpus with a cyclic tree, a head-less token and a misaligned entity; dev with an unseen label and a copy of a train doc."
    vocab = Vocab()
    ents = ["O"] * 4
    good = Doc(vocab, ["She", "reads", "books", "."], heads=[1, 1, 1, 1], deps=["nsubj", "ROOT", "obj", "punct"], ents=ents)
    cyclic = Doc(vocab, ["Dogs", "chase", "cats", "."], heads=[1, 1, 1, 1], deps=["nsubj", "ROOT", "obj", "punct"], ents=ents)
    # Doc(...) refuses a cycle; a corpus file written elsewhere can still hold one, so plant it in the HEAD column
    cyclic.from_array([HEAD], np.array([2, 0, -2, -2], dtype=np.int64).view(np.uint64))
    headless = Doc(vocab, ["He", "left", "early", "."], heads=[1, 1, None, 1], deps=["nsubj", "ROOT", None, "punct"], ents=ents)
    misaligned = Doc(vocab, ["London", "ers", "love", "tea"], [False, True, True, False], ents=["B-GPE", "O", "O", "O"])
    unseen = Doc(vocab, ["Flights", "to", "London", "and", "Zorg"], ents=["O", "O", "B-GPE", "O", "B-NEWLABEL"])
    DocBin(docs=[good, cyclic, headless, misaligned]).to_disk(tmp_path / "train.nlpnb")
    DocBin(docs=[good, unseen]).to_disk(tmp_path / "dev.nlpnb")
    return write_config(tmp_path, tmp_path / "train.nlpnb", tmp_path / "dev.nlpnb")

def test_planted_problems_are_errors_and_warnings(planted):
    report = debug_data(load_config(planted))
    deps, ents, corpus = report["deps"].stats, report["ents"].stats, report["corpus"].stats
    assert (deps["train"]["cycles"], deps["train"]["headless"]) == (1, 1)
    assert ents["train"]["misaligned"] == 1 and ents["unseen_labels"] == {"NEWLABEL": 1}
    assert corpus["overlap"] == 1
    assert [f.text for f in report.errors] == ["1 cyclic tree (train 1, dev 0): heads must lead to a root"]
    warnings = " | ".join(f.text for f in report.warnings)
    for expected in ("1 token without a head", "1 entity (train 1, dev 0) does not line up", "1 entity label in dev never occurs",
                     "1 of 2 dev examples (50.0%) also occurs in train"):
        assert expected in warnings, warnings
    assert report.exit_code == 1

def test_planted_problems_on_the_command_line(planted):
    code, out, err = run_cli(["debug", "data", str(planted)])
    assert code == 1, err
    assert "✘ 1 cyclic tree" in out and "cycle 0 'Dogs' -> 2 'cats' -> 0 'Dogs'" in out
    assert "⚠ 1 token without a head" in out and "GPE 'London' in 'Londoners love tea'" in out and "'NEWLABEL': 1 in dev" in out
    assert out.rstrip().endswith("Fix the errors before training.")
    code, out, _ = run_cli(["debug", "data", str(planted), "--ignore-warnings"])
    assert code == 1 and "⚠" not in out.split("Verdict")[0] and "(hidden)" in out and "✘ 1 cyclic tree" in out
    code, out, _ = run_cli(["debug", "data", str(planted), "--no-format"])
    lines = out.splitlines()
    assert all(line.count("\t") >= 2 for line in lines), out
    assert "error\tDependency trees\t1 cyclic tree (train 1, dev 0): heads must lead to a root" in lines
    assert lines[-2].startswith("error\tVerdict\t1 error, ")

def test_without_the_cycle_warnings_alone_exit_0(tmp_path):
    vocab = Vocab()
    doc = Doc(vocab, ["He", "left", "early", "."], heads=[1, 1, None, 1], deps=["nsubj", "ROOT", None, "punct"])
    DocBin(docs=[doc]).to_disk(tmp_path / "train.nlpnb"); DocBin(docs=[doc]).to_disk(tmp_path / "dev.nlpnb")
    code, out, _ = run_cli(["debug", "data", str(write_config(tmp_path, tmp_path / "train.nlpnb", tmp_path / "dev.nlpnb"))])
    assert code == 0 and "0 errors" in out and "look at the warnings" in out

def test_arcs_across_sentences_and_unlabelled_entities_are_errors(tmp_path):
    vocab = Vocab()
    crossing = Doc(vocab, ["Go", ".", "Now", "."], heads=[0, 0, 0, 2], deps=["ROOT", "punct", "advmod", "punct"],
                   sent_starts=[True, False, True, False])          # 'Now' hangs off 'Go' in the sentence before
    nolabel = Doc(vocab, ["Ada", "sings"], ents=["O", "O"])
    nolabel.from_array([ENT_IOB, ENT_TYPE], [[3, 0], [2, 0]])        # an entity start without a type
    DocBin(docs=[crossing, nolabel]).to_disk(tmp_path / "train.nlpnb")
    report = debug_data(load_config(write_config(tmp_path, tmp_path / "train.nlpnb", tmp_path / "train.nlpnb")))
    errors = [f.text for f in report.errors]
    assert any(e.startswith("2 arcs across sentence boundaries") for e in errors), errors   # train and dev are the same file
    assert any(e.startswith("2 entities without a label") for e in errors), errors
    assert report.exit_code == 1

def test_category_problems():
    def tally(name, docs):
        t = Tally(name)
        vocab = Vocab()
        for i, cats in enumerate(docs):
            doc = Doc(vocab, ["x"]); doc.cats = cats
            from nlpnb.training.example import Example
            eg = Example(doc, doc); t.start(i, eg); CatsCheck().collect(eg, t)
        return t
    train = tally("train", [{"A": 1.0, "B": 0.0}, {"A": 1.0, "B": 1.0}, {"A": 1.5}])
    dev = tally("dev", [{"A": 0.0, "B": 1.0}])
    section = Section("cats", "Text categories")
    CatsCheck().report(train, dev, section, {"textcat"})
    errors = section.texts("error")
    assert errors[0].startswith("1 doc with category scores outside [0, 1]")
    assert "textcat needs exactly one" in errors[1]
    assert "'B' missing from 1 train docs" in section.findings[[f.level for f in section.findings].index("warning")].details
    section = Section("cats", "Text categories")
    CatsCheck().report(train, dev, section, {"textcat_multilabel"})
    assert section.texts("error") == ["1 doc with category scores outside [0, 1]"]


def test_span_groups(tmp_path):
    from nlpnb.tokens import Span
    vocab = Vocab()
    def doc(groups):
        d = Doc(vocab, ["Ada", "met", "Bob", "in", "Rome"])
        for key, spans in groups.items(): d.spans[key] = [Span(d, s, e, label=l) for s, e, l in spans]
        return d
    DocBin(docs=[doc({"sc": [(0, 1, "PER"), (2, 3, "PER"), (4, 5, "LOC")]})]).to_disk(tmp_path / "train.nlpnb")
    DocBin(docs=[doc({"sc": [(0, 1, "PER"), (4, 5, "CITY")], "extra": [(0, 3, "EVENT")]})]).to_disk(tmp_path / "dev.nlpnb")
    report = debug_data(load_config(write_config(tmp_path, tmp_path / "train.nlpnb", tmp_path / "dev.nlpnb")))
    spans = report["spans"].stats
    assert spans["train"]["keys"] == {"sc": 3} and spans["dev"]["keys"] == {"sc": 2, "extra": 1}
    assert spans["sc:train_labels"] == {"PER": 2, "LOC": 1} and spans["sc:unseen_labels"] == {"CITY": 1}
    warnings = report["spans"].texts("warning")
    assert "1 span group in dev but not in train: 'extra'" in warnings
    assert "1 span 'sc' label in dev never occurs in train, so the model can't predict it" in warnings


# -- the pipeline decides what is checked ----------------------------------------------------------------
STAND_IN = '''
from nlpnb.language import Language
class StandIn:
    is_trainable = {trainable}
    def __call__(self, doc): return doc
@Language.factory("{name}", assigns=["doc.ents"])
def make(nlp, name): return StandIn()
'''

@pytest.mark.parametrize("trainable", [True, False])
def test_components_focus_the_report(tmp_path, trainable):
    name = f"debug_data_test_ner_{trainable}".lower()
    (tmp_path / "code.py").write_text(STAND_IN.format(name=name, trainable=trainable))
    vocab = Vocab()
    doc = Doc(vocab, ["She", "reads", "."], heads=[1, 1, 1], deps=["nsubj", "ROOT", "punct"])
    DocBin(docs=[doc]).to_disk(tmp_path / "c.nlpnb")
    from nlpnb.util import import_code
    import_code(str(tmp_path / "code.py"))
    cfg = write_config(tmp_path, tmp_path / "c.nlpnb", tmp_path / "c.nlpnb", '["ner"]', f'\n[components.ner]\nfactory = "{name}"\n')
    code, out, err = run_cli(["debug", "data", str(cfg), "--code", str(tmp_path / "code.py")])
    assert "Named entities" in out and "Dependency trees" not in out, out
    assert "Annotation that no component learns from: sents, deps" in out
    if trainable: assert code == 1 and "✘ 'ner' learns from named entities, but no train example has any" in out
    else: assert code == 0 and "fine for a rule-based component" in out


# -- command-line surface --------------------------------------------------------------------------------
def test_help_lists_the_options():
    code, out, err = run_cli(["debug", "data", "--help"])
    assert code == 0, err
    for option in ("CONFIG", "--code", "--verbose", "--ignore-warnings", "--no-format", "--section.key value"):
        assert option in out, option

def test_unset_corpus_and_missing_config(tmp_path, planted):
    code, out, _ = run_cli(["debug", "data", str(planted), "--paths.dev", "null"])
    assert code == 1 and "The dev corpus can't be read" in out and "paths.dev is not set" in out
    assert "train: 4 docs" in out   # the train corpus is still reported
    code, _, err = run_cli(["debug", "data", str(tmp_path / "nope.cfg")])
    assert code == 1 and err.strip() == f"error: Config file not found: {tmp_path / 'nope.cfg'}"

def test_verbose_lists_everything_and_the_overrides(tmp_path):
    vocab = Vocab()
    docs = [Doc(vocab, [f"w{i}", "x"], heads=[1, 1], deps=[f"label{i}", "ROOT"]) for i in range(8)]
    DocBin(docs=docs).to_disk(tmp_path / "t.nlpnb")
    cfg = write_config(tmp_path, tmp_path / "t.nlpnb", tmp_path / "t.nlpnb")
    _, out, _ = run_cli(["debug", "data", str(cfg)])
    assert "… and 4 more (see --verbose)" in out
    _, out, err = run_cli(["debug", "data", str(cfg), "--verbose", "--corpora.train.limit", "8"])
    assert "… and" not in out and "'label7': 1" in out and "override: corpora.train.limit = 8" in err

@pytest.mark.skipif("nlpnb.cli.debug_data" not in COMMAND_MODULES, reason="nlpnb.cli.debug_data is not in nlpnb.cli.COMMAND_MODULES yet")
def test_as_a_process(planted):
    res = subprocess.run([sys.executable, "-m", "nlpnb", "debug", "data", str(planted), "--no-format"], capture_output=True,
                         text=True, env={**os.environ, "NO_COLOR": "1"}, timeout=300)
    assert res.returncode == 1 and "error\tDependency trees\t1 cyclic tree" in res.stdout, res.stderr


# -- trees: the checker against the direct definition ------------------------------------------------------
def test_tree_problems_agree_with_the_definition_on_random_trees():
    rng = random.Random(0)
    seen = Counter()
    for _ in range(2000):
        n = rng.randint(1, 9)
        order = list(range(n)); rng.shuffle(order)
        heads = [None] * n
        root = order[0]; heads[root] = root
        for k, d in enumerate(order[1:], 1): heads[d] = order[rng.randrange(k)]   # attach to an earlier node: a tree
        expected = is_nonprojective([0 if h == d else h + 1 for d, h in enumerate(heads)])
        problems = tree_problems(heads)
        assert bool(problems.nonproj) == expected, heads
        assert problems.roots == [root] and not problems.cycles and not problems.headless
        seen[expected] += 1
    assert seen[True] > 100 and seen[False] > 100
    cyclic = [1, 2, 0, 3]
    assert tree_problems(cyclic).cycles == [[0, 1, 2]] and tree_problems(cyclic).nonproj == []
