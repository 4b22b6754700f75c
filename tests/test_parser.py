"""The `parser` and `ner` components on real data: trained from the CLI on one corpus that mixes UD English EWT
(tags and trees, no entities) with WikiANN (entities only), each component learns from the annotation it has; the
saved pipeline loads back to identical predictions; beam search, rare-label handling, non-projective trees and
entities preset by an entity ruler behave as in spaCy. Side-by-side speed and accuracy: benchmarks/bench_parser.py."""
import itertools, json, os, random, subprocess, sys
from pathlib import Path

import pytest
from thinc.api import fix_random_seed

import nlpnb
from nlpnb.tokens.doc import Doc
from nlpnb.training.converters import read_conllu, read_iob
from nlpnb.training.example import Example

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
EWT, WIKIANN = DATA / "ud_en_ewt", DATA / "wikiann_en"
pytestmark = pytest.mark.skipif(not (EWT.exists() and WIKIANN.exists()), reason="../shared/data is missing")


def run_nlpnb(*args):
    res = subprocess.run([sys.executable, "-m", "nlpnb", *map(str, args)], capture_output=True, text=True,
                         env={**os.environ, "NO_COLOR": "1"}, timeout=900)
    assert res.returncode == 0, f"nlpnb {' '.join(map(str, args))} failed:\n{res.stderr[-3000:]}"
    return res

def first_blocks(src: Path, dst: Path, n: int) -> None:
    "The first `n` blank-line separated sentences of a CoNLL-U or IOB file."
    blocks = [b for b in src.read_text(encoding="utf8").split("\n\n") if b.strip()][:n]
    dst.write_text("\n\n".join(blocks) + "\n\n", encoding="utf8")

def examples_of(docs, nlp):
    "Examples whose predicted docs have the gold words and nothing else."
    return [Example(Doc(nlp.vocab, [t.text for t in d], spaces=[bool(t.whitespace_) for t in d]), d) for d in docs]


def test_cli_trains_tagger_parser_ner_on_partially_annotated_corpora(tmp_path):
    src = tmp_path / "src"; src.mkdir()
    first_blocks(EWT / "en_ewt-ud-train.conllu", src / "ewt-train.conllu", 700)
    first_blocks(EWT / "en_ewt-ud-dev.conllu", src / "ewt-dev.conllu", 150)
    first_blocks(WIKIANN / "train.iob", src / "wikiann-train.iob", 1500)
    first_blocks(WIKIANN / "dev.iob", src / "wikiann-dev.iob", 300)
    for split in ("train", "dev"):
        for f in (src / f"ewt-{split}.conllu", src / f"wikiann-{split}.iob"):
            run_nlpnb("convert", f, tmp_path / split, "-n", "10")
    run_nlpnb("init", "config", tmp_path / "config.cfg", "--lang", "en", "--pipeline", "tagger,parser,ner")
    overrides = ["--paths.train", tmp_path / "train", "--paths.dev", tmp_path / "dev", "--training.max_steps", "300",
                 "--training.eval_frequency", "100", "--components.tok2vec.model.encode.width", "64",
                 "--components.tok2vec.model.embed.width", "64", "--components.parser.min_action_freq", "5"]
    train = run_nlpnb("train", tmp_path / "config.cfg", "--output", tmp_path / "out", *overrides)
    lines = [l.split() for l in train.stdout.splitlines()]
    start = next(i for i, l in enumerate(lines) if l[:2] == ["E", "#"])
    header, rows = lines[start], [l for l in lines[start + 1:] if l and l[0].isdigit()]
    assert {"TAG_ACC", "DEP_UAS", "DEP_LAS", "ENTS_F"} <= set(header), train.stdout
    col = lambda name, row: float(row[header.index(name) - len(header)])   # from the right: loss headers have spaces
    assert col("DEP_UAS", rows[-1]) > col("DEP_UAS", rows[0]) + 20, train.stdout   # both learned from their own half
    assert col("ENTS_F", rows[-1]) > col("ENTS_F", rows[0]) + 15, train.stdout
    run_nlpnb("evaluate", tmp_path / "out" / "model-best", tmp_path / "dev", "--output", tmp_path / "scores.json")
    scores = json.loads((tmp_path / "scores.json").read_text())
    assert scores["dep_uas"] > 0.45 and scores["dep_las"] > 0.3, scores
    assert scores["ents_f"] > 0.18 and scores["tag_acc"] > 0.7, scores

    nlp = nlpnb.load(tmp_path / "out" / "model-best")
    assert nlp.pipe_names == ["tok2vec", "tagger", "parser", "ner"]
    texts = ["The committee approved the new budget on Tuesday.", "Barack Obama visited Berlin and Paris last year."]
    docs = list(nlp.pipe(texts))
    again = list(nlpnb.load(tmp_path / "out" / "model-best").pipe(texts))
    parse = lambda d: [(t.head.i, t.dep_, t.tag_, t.ent_iob_, t.ent_type_) for t in d]
    assert [parse(d) for d in docs] == [parse(d) for d in again]
    for doc in docs:   # a tree per sentence, with no decorated (projectivized) labels left
        assert all("||" not in t.dep_ for t in doc)
        for sent in doc.sents:
            assert sum(t.head.i == t.i for t in sent) == 1 and all(sent.start <= t.head.i < sent.end for t in sent)
    # decoding settings are runtime config: a beam can be asked for at load time
    beam = nlpnb.load(tmp_path / "out" / "model-best", config={"components": {"parser": {"beam_width": 4}}})
    assert beam.get_pipe("parser").cfg["beam_width"] == 4
    for doc in beam.pipe(texts):
        for sent in doc.sents: assert sum(t.head.i == t.i for t in sent) == 1


@pytest.fixture(scope="module")
def trained_parser():
    "A parser trained in-process on 600 EWT sentences for 6 epochs (scored on 200 dev sentences)."
    fix_random_seed(0); random.seed(0)
    nlp = nlpnb.blank("en")
    nlp.add_pipe("parser", config={"model": {"tok2vec": {"width": 64, "depth": 2}}})
    train = examples_of(itertools.islice(read_conllu(EWT / "en_ewt-ud-train.conllu", nlp.vocab), 600), nlp)
    dev = examples_of(itertools.islice(read_conllu(EWT / "en_ewt-ud-dev.conllu", nlp.vocab), 200), nlp)
    optimizer = nlp.initialize(lambda: train)
    for epoch in range(6):
        random.shuffle(train)
        for i in range(0, len(train), 32): nlp.update(train[i:i + 32], sgd=optimizer, drop=0.1)
    return nlp, train, dev


def test_rare_labels_become_dep_and_only_known_labels_are_predicted(trained_parser):
    nlp, train, dev = trained_parser
    parser = nlp.get_pipe("parser")
    counts = {}
    for eg in train:
        heads, deps = eg.get_aligned_parse(projectivize=True)
        for i, (h, d) in enumerate(zip(heads, deps)):
            if h is not None and h != i: counts[d] = counts.get(d, 0) + 1
    rare = {d for d, c in counts.items() if c < 30}
    assert rare and "dep" in parser.labels
    assert set(parser.labels) == {d for d, c in counts.items() if c >= 30} | {"dep"}
    predicted = {t.dep_ for doc in nlp.pipe(eg.predicted.text for eg in dev) for t in doc}
    assert predicted <= set(parser.labels) | {"ROOT"} | {d.split("||")[0] for d in parser.labels}, predicted - set(parser.labels)


def test_trained_parser_scores_and_beam_search(trained_parser):
    nlp, train, dev = trained_parser
    greedy = nlp.evaluate(dev)
    assert greedy["dep_uas"] > 0.55 and greedy["dep_las"] > 0.4, greedy
    parser = nlp.get_pipe("parser")
    parser.cfg["beam_width"] = 4
    try: beam = nlp.evaluate(dev)
    finally: parser.cfg["beam_width"] = 1
    print(f"dev UAS greedy {greedy['dep_uas']:.3f}, beam 4 {beam['dep_uas']:.3f}")
    assert beam["dep_uas"] > greedy["dep_uas"] - 0.02, (greedy["dep_uas"], beam["dep_uas"])   # a beam finds likelier parses


def test_nonprojective_gold_trees_are_learned_through_projectivization(trained_parser):
    nlp, train, dev = trained_parser
    from nlpnb.training.nonproj import is_nonproj_tree
    nonproj = [eg for eg in train if is_nonproj_tree([t.head.i for t in eg.reference])]
    assert nonproj, "EWT's first 600 sentences have non-projective trees"
    heads, deps = nonproj[0].get_aligned_parse(projectivize=True)
    assert not is_nonproj_tree(heads)
    S = nlp.get_pipe("parser").moves.init_states([eg.predicted for eg in nonproj])
    G = nlp.get_pipe("parser").moves.gold(nonproj, S)
    assert (G.heads >= 0).mean() > 0.95     # every projectivized arc is a target


def test_first_call_plain_python_decoding_parses_as_the_compiled_kernels(trained_parser):
    "Until the decoding kernels are compiled (nlpnb.warm), small batches decode in plain Python: the same parses."
    from nlpnb.parser import arc_eager
    from nlpnb.ml import parser_model
    nlp, _, dev = trained_parser
    texts = [eg.predicted.text for eg in dev[:40]]
    parse = lambda doc: [(t.head.i, t.dep_) for t in doc]
    kernels = [arc_eager._features_batch, arc_eager._apply_best_batch, parser_model.state_scores]
    compiled = [parse(nlp(t)) for t in texts]
    saved = [(k.ready, k._sig, k._calls) for k in kernels]
    try:
        for k in kernels: k.ready, k._sig, k._calls = False, (), -10 ** 9   # not compiled, and not about to be
        plain = [parse(nlp(t)) for t in texts]
    finally:
        for k, (ready, sig, calls) in zip(kernels, saved): k.ready, k._sig, k._calls = ready, sig, calls
    assert plain == compiled


def test_ner_keeps_entities_set_before_it(tmp_path):
    fix_random_seed(0); random.seed(0)
    nlp = nlpnb.blank("en")
    nlp.add_pipe("ner", config={"model": {"tok2vec": {"width": 64, "depth": 2}}})
    train = examples_of(itertools.islice(read_iob(WIKIANN / "train.iob", nlp.vocab), 1500), nlp)
    optimizer = nlp.initialize(lambda: train)
    for epoch in range(2):
        random.shuffle(train)
        for i in range(0, len(train), 32): nlp.update(train[i:i + 32], sgd=optimizer)
    ruler = nlp.add_pipe("entity_ruler", before="ner")
    ruler.add_patterns([{"label": "ORG", "pattern": "Paris Saint-Germain"}])
    doc = nlp("Paris Saint-Germain played in London against Manchester United .")
    ents = [(e.text, e.label_) for e in doc.ents]
    assert ents[0] == ("Paris Saint-Germain", "ORG"), ents
    nlp.to_disk(tmp_path / "ner")
    assert [(e.text, e.label_) for e in nlpnb.load(tmp_path / "ner")(doc.text).ents] == ents


def test_parser_refuses_bad_settings_clearly():
    with pytest.raises(ValueError, match="learn_tokens"):
        nlpnb.blank("en").add_pipe("parser", config={"learn_tokens": True})
    nlp = nlpnb.blank("en")
    nlp.add_pipe("parser")
    doc = nlp.make_doc("No trees here")
    with pytest.raises(ValueError, match="No labels for component 'parser'"):
        nlp.initialize(lambda: [Example(doc, nlp.make_doc("No trees here"))])
