"""The token-labelling components on real data: `tagger`, `morphologizer` and `senter` trained on a slice of UD English
EWT train and scored on held-out EWT dev sentences with `nlpnb.scorer`, against the baselines a useless model would
get; missing gold; labels round-tripping through `label_data`; save and load; rehearsal. The full-corpus comparison
with spaCy is benchmarks/bench_tagger.py, not here."""
import itertools, random
from collections import Counter
from pathlib import Path
from typing import Callable, List

import numpy as np
import pytest
from thinc.api import fix_random_seed

import nlpnb
from nlpnb.pipeline.tagger import aligned_keys
from nlpnb.pipeline.morphologizer import Morphologizer
from nlpnb.pipeline.senter import SentenceRecognizer
from nlpnb.scorer import Scorer
from nlpnb.tokens.doc import Doc
from nlpnb.training.converters import read_conllu
from nlpnb.training.example import Example

ROOT = Path(__file__).resolve().parents[1]
EWT = ROOT.parent / "shared" / "data" / "ud_en_ewt"
pytestmark = pytest.mark.skipif(not (EWT / "en_ewt-ud-train.conllu").exists(), reason="../shared/data/ud_en_ewt is missing")
N_TRAIN, N_DEV = 600, 300

def small_model(width: int = 64, depth: int = 2) -> dict:
    return {"@architectures": "nlpnb.Tagger.v1",
            "tok2vec": {"@architectures": "nlpnb.HashEmbedCNN.v1", "width": width, "depth": depth, "embed_size": 2000,
                        "window_size": 1, "maxout_pieces": 3, "subword_features": True, "pretrained_vectors": None}}

def examples(nlp, name: str, n_sents: int, per_doc: int = 1) -> List[Example]:
    "The first `n_sents` sentences of an EWT file, `per_doc` to a Doc, as Examples whose predicted Docs are bare."
    refs = itertools.islice(read_conllu(EWT / f"en_ewt-ud-{name}.conllu", nlp.vocab, n_sents=per_doc), n_sents // per_doc)
    return [Example(Doc(nlp.vocab, ref.words, [bool(t.whitespace_) for t in ref]), ref) for ref in refs]

def train(nlp, egs: List[Example], epochs: int, batch_size: int = 16, drop: float = 0.1) -> None:
    fix_random_seed(0)
    opt = nlp.initialize(lambda: egs)
    egs = list(egs)
    for epoch in range(epochs):
        random.Random(epoch).shuffle(egs)
        for i in range(0, len(egs), batch_size): nlp.update(egs[i:i + batch_size], drop=drop, sgd=opt)

def annotate(nlp, egs: List[Example]) -> List[Example]:
    "Examples whose predicted Docs are fresh Docs annotated by `nlp`."
    docs = nlp.pipe(Doc(nlp.vocab, eg.reference.words, [bool(t.whitespace_) for t in eg.reference]) for eg in egs)
    return [Example(doc, eg.reference) for doc, eg in zip(docs, egs)]

def constant(egs: List[Example], set_value: Callable[[Doc], None]) -> List[Example]:
    "Baseline: every predicted Doc annotated the same way by `set_value`."
    out = []
    for eg in egs:
        doc = Doc(eg.reference.vocab, eg.reference.words, [bool(t.whitespace_) for t in eg.reference])
        set_value(doc)
        out.append(Example(doc, eg.reference))
    return out

@pytest.fixture(scope="module")
def data():
    nlp = nlpnb.blank("en")
    return nlp, examples(nlp, "train", N_TRAIN), examples(nlp, "dev", N_DEV)

@pytest.fixture(scope="module")
def trained_tagger(data):
    vocab_nlp, train_egs, dev_egs = data
    nlp = nlpnb.blank("en", vocab=vocab_nlp.vocab)
    nlp.add_pipe("tagger", config={"model": small_model()})
    train(nlp, train_egs, epochs=6)
    return nlp

# -- accuracy on held-out data ----------------------------------------------------------------------------------------

def test_tagger_learns_ewt_tags(data, trained_tagger):
    "600 training sentences, 6 epochs: tag_acc 0.87 on 300 dev sentences, against 0.12 for the most frequent tag."
    _, train_egs, dev_egs = data
    majority = Counter(t.tag_ for eg in train_egs for t in eg.reference).most_common(1)[0][0]
    def all_majority(doc):
        for t in doc: t.tag_ = majority
    baseline = Scorer.score_token_attr(constant(dev_egs, all_majority), "tag")["tag_acc"]
    acc = Scorer.score_token_attr(annotate(trained_tagger, dev_egs), "tag")["tag_acc"]
    assert baseline < 0.15
    assert acc > 0.82, acc
    assert trained_tagger.evaluate(dev_egs)["tag_acc"] == pytest.approx(acc)  # the component's own scorer agrees

def test_morphologizer_learns_ewt_pos_and_features(data):
    "POS and whole morphological analyses: pos_acc 0.88 and morph_acc 0.86, against 0.12 and 0.32 for the most frequent label."
    vocab_nlp, train_egs, dev_egs = data
    nlp = nlpnb.blank("en", vocab=vocab_nlp.vocab)
    nlp.add_pipe("morphologizer", config={"model": small_model()})
    train(nlp, train_egs, epochs=6)
    morph = nlp.get_pipe("morphologizer")
    assert "Number=Sing|POS=NOUN" in morph.labels and "POS=ADP" in morph.labels
    pairs = Counter((t.pos_, str(t.morph) or "_") for eg in train_egs for t in eg.reference)
    (pos, feats), _ = pairs.most_common(1)[0]
    def all_majority(doc):
        for t in doc: t.pos_, t.morph = pos, feats
    base = Scorer.score_token_attr(constant(dev_egs, all_majority), "pos")["pos_acc"], \
           nlpnb.scorer.morphologizer_score(constant(dev_egs, all_majority))["morph_acc"]
    scores = nlpnb.scorer.morphologizer_score(annotate(nlp, dev_egs))
    assert base[0] < 0.15 and base[1] < 0.35, base
    assert scores["pos_acc"] > 0.85 and scores["morph_acc"] > 0.83, scores
    assert scores["morph_micro_f"] > 0.8

def test_senter_learns_ewt_sentence_starts(data):
    "Docs of 10 sentences, 1500 training sentences: sents_f ~0.82 on dev, against 0.0 for one sentence per doc and 0.75 for splitting after . ! ?"
    vocab_nlp, _, _ = data
    train_egs, dev_egs = examples(vocab_nlp, "train", 1500, per_doc=10), examples(vocab_nlp, "dev", N_DEV, per_doc=10)
    nlp = nlpnb.blank("en", vocab=vocab_nlp.vocab)
    nlp.add_pipe("senter", config={"model": small_model(width=32, depth=2)})
    train(nlp, train_egs, epochs=8, batch_size=4)
    def one_sentence(doc):
        for t in doc: t.is_sent_start = t.i == 0
    def after_punct(doc):
        for t in doc: t.is_sent_start = t.i == 0 or doc[t.i - 1].text in (".", "!", "?")
    one = Scorer.score_spans(constant(dev_egs, one_sentence), "sents")["sents_f"]
    punct = Scorer.score_spans(constant(dev_egs, after_punct), "sents")["sents_f"]
    f = nlp.evaluate(dev_egs)["sents_f"]
    assert one < 0.05 and punct < 0.77, (one, punct)
    assert f > punct + 0.04 and f > 0.78, (f, punct)

# -- missing gold -------------------------------------------------------------------------------------------------------

def test_missing_gold_is_ignored(data, trained_tagger):
    "A doc without tags adds nothing to the loss or the gradient; untagged tokens of a doc get zero gradient."
    _, _, dev_egs = data
    tagger = trained_tagger.get_pipe("tagger")
    egs = dev_egs[:8]
    bare = [Example(eg.predicted.copy(), Doc(eg.reference.vocab, eg.reference.words)) for eg in dev_egs[8:12]]
    scores = tagger.model.predict([eg.predicted for eg in egs + bare])
    probs = [tagger.model.ops.softmax(s) for s in scores]
    loss, d = tagger.get_loss(egs, probs[:8])
    loss2, d2 = tagger.get_loss(egs + bare, probs)
    assert loss2 == pytest.approx(loss)
    assert all(float(abs(g).sum()) == 0.0 for g in d2[8:])
    ref = egs[0].reference.copy()
    tags = ref.to_array("TAG"); tags[::2] = 0; ref.from_array(["TAG"], tags)
    _, d3 = tagger.get_loss([Example(egs[0].predicted, ref)], probs[:1])
    assert float(abs(d3[0][::2]).sum()) == 0.0 and float(abs(d3[0][1::2]).sum()) > 0.0
    # the same for the morphologizer (no POS, no features) and the senter (no sentence boundaries)
    words = egs[0].reference.words
    fresh = lambda: nlpnb.registry.resolve({"m": small_model(16, 1)})["m"]
    morph = Morphologizer(tagger.vocab, fresh())
    morph.initialize(lambda: egs)
    assert set(morph._truths(Example(Doc(tagger.vocab, words), Doc(tagger.vocab, words)))) == {None}
    senter = SentenceRecognizer(tagger.vocab, fresh())
    assert set(senter._truths(Example(Doc(tagger.vocab, words), Doc(tagger.vocab, words)))) == {None}

def test_aligned_keys_match_get_aligned(data):
    "The vectorized alignment gives Example.get_aligned's values, on identical and on different tokenizations."
    nlp, _, dev_egs = data
    for eg in dev_egs[:50]:
        for attr in ("TAG", "POS", "MORPH", "SENT_START"):
            expected = [v or 0 for v in eg.get_aligned(attr)]
            assert aligned_keys(eg, attr).tolist() == expected
    for eg in dev_egs[:50]:  # re-tokenized by the English tokenizer: some tokens split or merged
        retok = Example(nlp.make_doc(eg.reference.text), eg.reference)
        assert aligned_keys(retok, "TAG").tolist() == [v or 0 for v in retok.get_aligned("TAG")]

# -- labels ---------------------------------------------------------------------------------------------------------------

def test_labels_round_trip(data, trained_tagger):
    "label_data -> initialize(labels=...) gives the same labels in the same order; add_label widens a trained model."
    vocab_nlp, train_egs, _ = data
    tagger = trained_tagger.get_pipe("tagger")
    nlp = nlpnb.blank("en", vocab=vocab_nlp.vocab)
    other = nlp.add_pipe("tagger", config={"model": small_model(16, 1)})
    other.initialize(lambda: train_egs[:5], labels=tagger.label_data)
    assert other.labels == tagger.labels and other.label_data == list(tagger.labels)
    assert other.model.get_ref("output_layer").get_dim("nO") == len(tagger.labels)
    assert other.add_label(tagger.labels[0]) == 0
    assert other.add_label("NEWTAG") == 1
    assert other.model.get_ref("output_layer").get_dim("nO") == len(tagger.labels) + 1
    assert other.predict([train_egs[0].predicted])[0].shape == (len(train_egs[0].predicted), len(tagger.labels) + 1)

    morph = nlp.add_pipe("morphologizer", config={"model": small_model(16, 1)})
    morph.initialize(lambda: train_egs)
    again = Morphologizer(nlp.vocab, nlpnb.registry.resolve({"m": small_model(16, 1)})["m"])
    again.initialize(lambda: train_egs[:5], labels=morph.label_data)
    assert again.labels == morph.labels and again.label_data == morph.label_data
    assert again.add_label("POS=NOUN|Number=Sing") == 0 and again.add_label("Number=Sing|POS=NOUN") == 0

    senter = nlp.add_pipe("senter")
    assert senter.labels == ("I", "S") and senter.label_data is None
    senter.initialize(lambda: train_egs[:5], labels=["I", "S"])
    with pytest.raises(ValueError, match="fixed"): senter.add_label("B")
    with pytest.raises(ValueError, match="No labels"):
        nlpnb.blank("en").add_pipe("tagger").initialize(lambda: [Example(Doc(nlp.vocab, ["x"]), Doc(nlp.vocab, ["x"]))])

# -- saving and loading ------------------------------------------------------------------------------------------------------

def test_save_load_same_predictions(tmp_path, data):
    "A pipeline with all three components, trained, saved with nlp.to_disk and read with nlpnb.load, predicts the same scores."
    vocab_nlp, train_egs, dev_egs = data
    nlp = nlpnb.blank("en", vocab=vocab_nlp.vocab)
    for name in ("tagger", "morphologizer", "senter"): nlp.add_pipe(name, config={"model": small_model(16, 1)})
    train(nlp, train_egs[:100], epochs=1)
    nlp.to_disk(tmp_path / "nlp")
    loaded = nlpnb.load(tmp_path / "nlp")
    assert loaded.pipe_names == ["tagger", "morphologizer", "senter"]
    docs = [eg.predicted for eg in dev_egs[:50]]
    for name in loaded.pipe_names:
        a, b = nlp.get_pipe(name), loaded.get_pipe(name)
        assert a.labels == b.labels and a.cfg == b.cfg
        for x, y in zip(a.predict(docs), b.predict(docs)): np.testing.assert_array_equal(x, y)
    texts = [eg.reference.text for eg in dev_egs[:50]]
    for d1, d2 in zip(nlp.pipe(texts), loaded.pipe(texts)):
        assert [(t.tag_, t.pos_, str(t.morph), t.is_sent_start) for t in d1] == \
               [(t.tag_, t.pos_, str(t.morph), t.is_sent_start) for t in d2]

# -- rehearsal ---------------------------------------------------------------------------------------------------------------

def test_rehearse_reduces_forgetting(tmp_path, data, trained_tagger):
    "Fine-tuning on 20 sentences tagged NN everywhere keeps 20% of the old dev predictions; with rehearsal on raw text, 78%."
    _, train_egs, dev_egs = data
    trained_tagger.to_disk(tmp_path / "base")
    raw = [Example(eg.predicted.copy(), Doc(eg.reference.vocab, eg.reference.words)) for eg in train_egs[:200]]
    wrong = []
    for eg in train_egs[:20]:
        ref = Doc(eg.reference.vocab, eg.reference.words, tags=["NN"] * len(eg.reference))
        wrong.append(Example(eg.predicted.copy(), ref))
    docs = [eg.predicted for eg in dev_egs]
    before = [s.argmax(axis=1) for s in trained_tagger.get_pipe("tagger").predict(docs)]
    def agreement(nlp) -> float:
        after = [s.argmax(axis=1) for s in nlp.get_pipe("tagger").predict(docs)]
        return float(np.mean(np.concatenate([a == b for a, b in zip(after, before)])))
    results = {}
    for rehearse in (False, True):
        nlp = nlpnb.load(tmp_path / "base")
        tagger = nlp.get_pipe("tagger")
        tagger.init_rehearsal()
        opt = nlp.create_optimizer()
        fix_random_seed(0)
        for step in range(10):
            nlp.update(wrong, sgd=opt)
            if rehearse: nlp.rehearse(raw[step * 20:(step + 1) * 20], sgd=opt)
        results[rehearse] = agreement(nlp)
    assert results[True] > results[False] + 0.05, results

# -- with a shared tok2vec -------------------------------------------------------------------------------------------------

def test_components_with_a_listener(tmp_path, data):
    "tagger, morphologizer and senter listening to one tok2vec (600 sentences, 4 epochs): tag_acc 0.78, pos_acc 0.80; save, load, rehearse."
    pytest.importorskip("nlpnb.pipeline.tok2vec")
    vocab_nlp, train_egs, dev_egs = data
    nlp = nlpnb.blank("en", vocab=vocab_nlp.vocab)
    width = 32
    nlp.add_pipe("tok2vec", config={"model": small_model(width, 2)["tok2vec"]})
    listener = {"@architectures": "nlpnb.Tok2VecListener.v1", "width": width, "upstream": "*"}
    for name in ("tagger", "morphologizer", "senter"):
        nlp.add_pipe(name, config={"model": {"@architectures": "nlpnb.Tagger.v1", "tok2vec": listener}})
    train(nlp, train_egs, epochs=4)
    scores = nlp.evaluate(dev_egs)
    assert scores["tag_acc"] > 0.7 and scores["pos_acc"] > 0.7, scores  # 0.78 and 0.80
    nlp.to_disk(tmp_path / "nlp")
    loaded = nlpnb.load(tmp_path / "nlp")
    texts = [eg.reference.text for eg in dev_egs[:30]]
    for d1, d2 in zip(nlp.pipe(texts), loaded.pipe(texts)):
        assert [(t.tag_, t.pos_, str(t.morph)) for t in d1] == [(t.tag_, t.pos_, str(t.morph)) for t in d2]
    tagger = nlp.get_pipe("tagger")
    tagger.init_rehearsal()
    raw = [Example(eg.predicted.copy(), Doc(eg.reference.vocab, eg.reference.words)) for eg in train_egs[:20]]
    losses = nlp.rehearse(raw, sgd=nlp.create_optimizer())
    assert losses["tagger"] < 1e-6  # the teacher is the model itself so far
