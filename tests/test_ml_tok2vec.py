"""Token-to-vector architectures on real data: UD English EWT dev sentences as Docs, models built from config
strings through the registry as a pipeline config would, trained a few steps, saved and loaded, with static
vectors and with a user's own architecture dropped in. Speed is in benchmarks/bench_tok2vec.py, not here."""
import itertools
from pathlib import Path
from typing import List

import numpy as np
import pytest
from thinc.api import Adam, Config, Model, fix_random_seed
from thinc.types import Floats2d

import nlpnb.ml  # noqa: F401  (registrations)
from nlpnb.ml import FeatureExtractor, StaticVectors, char_rows, vector_rows
from nlpnb.registry import registry
from nlpnb.tokens import Doc
from nlpnb.training.converters import read_conllu
from nlpnb.vocab import Vectors, Vocab

ROOT = Path(__file__).resolve().parents[1]
EWT_DEV = ROOT.parent / "shared" / "data" / "ud_en_ewt" / "en_ewt-ud-dev.conllu"
pytestmark = pytest.mark.skipif(not EWT_DEV.exists(), reason="../shared/data/ud_en_ewt is missing")
WIDTH = 16

@pytest.fixture(scope="module")
def docs() -> List[Doc]:
    return list(itertools.islice(read_conllu(EWT_DEV, Vocab()), 120))

def with_vectors(docs: List[Doc], n_words: int = 200, width: int = 10) -> List[Doc]:
    "Give the docs' vocab a small random vectors table over the first `n_words` distinct words."
    keys = list(dict.fromkeys(k for doc in docs for k in doc.to_array("ORTH").tolist()))[:n_words]
    data = np.random.default_rng(0).normal(size=(len(keys), width)).astype("float32")
    docs[0].vocab.vectors = Vectors(data=data, keys=keys)
    return docs

ENCODE = f"""
[model.encode]
@architectures = "nlpnb.MaxoutWindowEncoder.v1"
width = {WIDTH}
window_size = 1
maxout_pieces = 2
depth = 2
"""
CONFIGS = {
    "multihash+maxout": f"""
[model]
@architectures = "nlpnb.Tok2Vec.v1"

[model.embed]
@architectures = "nlpnb.MultiHashEmbed.v1"
width = {WIDTH}
attrs = ["NORM", "PREFIX", "SUFFIX", "SHAPE"]
rows = [500, 100, 250, 250]
include_static_vectors = false
""" + ENCODE,
    "chars+mish": f"""
[model]
@architectures = "nlpnb.Tok2Vec.v1"

[model.embed]
@architectures = "nlpnb.CharacterEmbed.v1"
width = {WIDTH}
rows = 500
nM = 8
nC = 4
include_static_vectors = false

[model.encode]
@architectures = "nlpnb.MishWindowEncoder.v1"
width = {WIDTH}
window_size = 1
depth = 2
""",
    "hashembedcnn": f"""
[model]
@architectures = "nlpnb.HashEmbedCNN.v1"
width = {WIDTH}
depth = 2
embed_size = 500
window_size = 1
maxout_pieces = 3
subword_features = true
pretrained_vectors = null
""",
    "multihash+vectors": f"""
[model]
@architectures = "nlpnb.Tok2Vec.v1"

[model.embed]
@architectures = "nlpnb.MultiHashEmbed.v1"
width = {WIDTH}
attrs = ["NORM", "SHAPE"]
rows = [500, 100]
include_static_vectors = true
""" + ENCODE,
    "chars+vectors": f"""
[model]
@architectures = "nlpnb.Tok2Vec.v1"

[model.embed]
@architectures = "nlpnb.CharacterEmbed.v1"
width = {WIDTH}
rows = 500
nM = 4
nC = 6
include_static_vectors = true
feature = "NORM"
""" + ENCODE,
}

def build(name: str) -> Model:
    return registry.resolve(Config().from_str(CONFIGS[name]))["model"]

def toy_loss(Y: List[Floats2d], targets: List[Floats2d]):
    "Mean squared error against fixed targets, and its gradient."
    n = sum(y.size for y in Y)
    d = [(y - t) / n for y, t in zip(Y, targets)]
    return float(sum(((y - t) ** 2).sum() for y, t in zip(Y, targets)) / n), d

@pytest.mark.parametrize("name", list(CONFIGS))
def test_shapes_training_and_roundtrip(docs, name):
    fix_random_seed(0)
    if "vectors" in name: with_vectors(docs)
    model = build(name).initialize(X=docs[:10])
    Y = model.predict(docs)
    assert [y.shape for y in Y] == [(len(doc), WIDTH) for doc in docs]
    assert all(y.dtype == np.float32 and np.isfinite(y).all() for y in Y)
    assert model.get_dim("nO") == WIDTH
    # gradients flow: a few Adam steps on a toy regression reduce the loss
    batch = docs[:32]
    rng = np.random.default_rng(1)
    targets = [rng.uniform(-1, 1, size=(len(doc), WIDTH)).astype("float32") for doc in batch]
    optimizer, losses = Adam(0.01), []
    for _ in range(15):
        Yb, backprop = model.begin_update(batch)
        loss, dY = toy_loss(Yb, targets)
        backprop(dY)
        model.finish_update(optimizer)
        losses.append(loss)
    assert losses[-1] < 0.8 * losses[0], losses
    # to_bytes / from_bytes into a freshly built, uninitialized model gives identical outputs
    other = build(name).from_bytes(model.to_bytes())
    for a, b in zip(model.predict(docs), other.predict(docs)): np.testing.assert_array_equal(a, b)

def test_receptive_field_and_refs():
    model = build("multihash+maxout")
    assert model.attrs["receptive_field"] == 2
    assert model.get_ref("embed").get_dim("nO") == WIDTH
    assert model.get_ref("encode").attrs["receptive_field"] == 2

def test_context_stays_within_doc_and_window(docs):
    "A doc's vectors don't depend on its batch neighbours; with depth 2 and window 1 a change reaches 2 tokens."
    fix_random_seed(0)
    model = build("multihash+maxout").initialize(X=docs[:10])
    doc = max(docs[:40], key=len)
    alone = model.predict([doc])[0]
    np.testing.assert_allclose(model.predict(docs[:5] + [doc] + docs[5:8])[5], alone, rtol=1e-5, atol=1e-6)
    words = doc.words
    changed = model.predict([Doc(doc.vocab, words[:5] + ["zzyzx"] + words[6:])])[0]
    moved = [i for i in range(len(words)) if not np.allclose(changed[i], alone[i], atol=1e-6)]
    assert moved == [3, 4, 5, 6, 7], moved

def test_feature_extractor_on_ewt(docs):
    X = FeatureExtractor(["ORTH", "NORM", "SHAPE"]).predict(docs)
    assert [x.shape for x in X] == [(len(doc), 3) for doc in docs]
    strings = docs[0].vocab.strings
    for doc, x in zip(docs[:20], X):
        assert [strings[k] for k in x[:, 0].tolist()] == doc.words
        assert x[:, 2].tolist() == doc.to_array("SHAPE").tolist()

def test_char_rows_match_python_reference(docs):
    def reference(word: str, nC: int) -> List[int]:
        out = []
        for j in range(nC):
            k = j // 2
            out.append(0 if k >= len(word) else ord(word[k] if j % 2 == 0 else word[-1 - k]) % 255 + 1)
        return out
    for nC in (1, 4, 7):
        got = char_rows(docs, nC)
        want = [reference(w, nC) for doc in docs for w in doc.words]
        assert got.tolist() == want

def test_static_vectors_table_lookup(docs):
    fix_random_seed(0)
    with_vectors(docs, n_words=50, width=6)
    vectors = docs[0].vocab.vectors
    layer = StaticVectors(WIDTH).initialize(X=docs[:5])
    assert layer.get_dim("nM") == 6
    Y = layer.predict(docs[:30])
    keys = np.concatenate([doc.to_array("ORTH") for doc in docs[:30]])
    rows = vector_rows(vectors, keys)
    assert (rows >= 0).any() and (rows < 0).any()
    W = layer.get_param("W")
    expected = np.where(rows[:, None] >= 0, vectors.data[np.maximum(rows, 0)] @ W.T, 0)
    np.testing.assert_allclose(Y.dataXd, expected, rtol=1e-5, atol=1e-6)
    assert Y.lengths.tolist() == [len(doc) for doc in docs[:30]]

def test_static_vectors_need_a_table():
    docs = [Doc(Vocab(), ["no", "vectors", "here"])]
    with pytest.raises(ValueError, match="include_static_vectors = false"):
        build("multihash+vectors").initialize(X=docs)
    model = StaticVectors(WIDTH, 10).initialize()
    with pytest.raises(ValueError, match="table is empty"):
        model.predict(docs)

@registry.architectures("test_user.WordLengthEmbed.v1")
def word_length_embed(width: int) -> Model[List[Doc], List[Floats2d]]:
    "A user's own embed, with no nlpnb layers in it: each token's length times a learned row."
    def forward(model, docs, is_train):
        W = model.get_param("W")
        lengths = [model.ops.asarray2f(np.array([[len(w)] for w in doc.words], dtype="float32").reshape(-1, 1)) for doc in docs]
        def backprop(dY):
            model.inc_grad("W", sum(x.T @ dy for x, dy in zip(lengths, dY)))
            return []
        return [x @ W / 10 for x in lengths], backprop
    return Model("word_length_embed", forward, params={"W": None}, dims={"nO": width},
                 init=lambda model, X=None, Y=None: model.set_param("W", model.ops.alloc2f(1, width) + 0.5))

def test_user_architecture_drops_in(docs):
    config = CONFIGS["multihash+maxout"].split("[model.embed]")[0] + f"""
[model.embed]
@architectures = "test_user.WordLengthEmbed.v1"
width = {WIDTH}
""" + ENCODE
    model = registry.resolve(Config().from_str(config))["model"].initialize(X=docs[:5])
    Y, backprop = model.begin_update(docs[:8])
    assert [y.shape for y in Y] == [(len(doc), WIDTH) for doc in docs[:8]]
    backprop([np.ones_like(y) for y in Y])
    assert np.abs(model.get_ref("embed").get_grad("W")).sum() > 0

def test_config_errors_name_the_problem():
    bad = CONFIGS["multihash+maxout"].replace("rows = [500, 100, 250, 250]", "rows = [500, 100]")
    with pytest.raises(ValueError, match="4 attrs but 2 rows"):
        registry.resolve(Config().from_str(bad))
    bad = CONFIGS["hashembedcnn"].replace("depth = 2", 'depth = "deep"')
    with pytest.raises(Exception, match="depth"):
        registry.resolve(Config().from_str(bad))
