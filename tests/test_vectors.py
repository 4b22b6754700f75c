"""Static vectors with real data: vectors built from EWT text, written in every format, read by `nlpnb init vectors`
(in a process, as a user runs it), checked against brute force, and a tagger trained with them that saves, loads
and predicts with the same table."""
import gzip, os, subprocess, sys
from collections import Counter
from pathlib import Path
import numpy as np
import pytest
import nlpnb
from nlpnb.init_vectors import write_binary_vectors

DATA = Path(__file__).parents[1].parent / "shared" / "data" / "ud_en_ewt"
pytestmark = pytest.mark.skipif(not DATA.exists(), reason="../shared/data is missing")

def nlpnb_cli(*args, ok=True):
    res = subprocess.run([sys.executable, "-m", "nlpnb", *map(str, args)], capture_output=True, text=True,
                         env={**os.environ, "NO_COLOR": "1"}, timeout=600)
    if ok: assert res.returncode == 0, f"nlpnb {' '.join(map(str, args))} failed:\n{res.stderr[-3000:]}"
    return res

def ewt_sentences(n: int):
    "Word lists of the first `n` sentences of EWT train."
    sents, words = [], []
    for line in (DATA / "en_ewt-ud-train.conllu").open(encoding="utf8"):
        if not line.strip():
            if words: sents.append(words); words = []
            if len(sents) == n: break
        elif line[0].isdigit() and line.split("\t")[0].isdigit(): words.append(line.split("\t")[1])
    return sents

@pytest.fixture(scope="module")
def vecs(tmp_path_factory):
    "PPMI-SVD vectors (width 24) of the 1,200 most frequent words of 3,000 EWT sentences, in four files."
    tmp = tmp_path_factory.mktemp("vectors")
    sents = ewt_sentences(3000)
    words = [w for w, _ in Counter(w for s in sents for w in s).most_common(1200)]
    index = {w: i for i, w in enumerate(words)}
    counts = np.zeros((len(words), len(words)))
    for s in sents:
        ids = [index.get(w, -1) for w in s]
        for i, a in enumerate(ids):
            for b in ids[max(0, i - 2):i]:
                if a >= 0 and b >= 0: counts[a, b] += 1; counts[b, a] += 1
    total = counts.sum()
    pmi = np.log(np.maximum(counts * total, 1e-12) / np.outer(counts.sum(1) + 1e-9, counts.sum(0) + 1e-9))
    u, s, _ = np.linalg.svd(np.maximum(pmi, 0), full_matrices=False)
    data = (u[:, :24] * np.sqrt(s[:24])).astype("float32")
    data = np.round(data, 5)   # what the text file holds
    text = "".join(f"{w} " + " ".join(f"{x:.5f}" for x in row) + "\n" for w, row in zip(words, data))
    (tmp / "v.txt").write_text(f"{len(words)} 24\n" + text, encoding="utf8")
    with gzip.open(tmp / "v.vec.gz", "wt", encoding="utf8") as f: f.write(text)
    write_binary_vectors(tmp / "v.bin", words, data)
    table = np.random.default_rng(0).normal(size=(500, 24)).astype("float32").round(5)
    (tmp / "v.floret").write_text("500 24 3 5 2 7 < >\n" + "".join(f"{i} " + " ".join(f"{x:.5f}" for x in row) + "\n"
                                  for i, row in enumerate(table)), encoding="utf8")
    return {"dir": tmp, "words": words, "data": data, "floret": table}

def unit(x): return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)

@pytest.mark.parametrize("name", ["v.txt", "v.vec.gz", "v.bin"])
def test_init_vectors_reads_every_format(vecs, name):
    out = vecs["dir"] / f"out-{name}"
    res = nlpnb_cli("init", "vectors", "en", vecs["dir"] / name, out, "--name", "ewt")
    assert "Saved 1,200 vectors of width 24" in res.stderr
    v = nlpnb.load(out).vocab.vectors
    assert (v.shape, v.n_keys, v.name) == ((1200, 24), 1200, "ewt")
    rows = v.find(keys=vecs["words"])
    np.testing.assert_allclose(v.data[rows], vecs["data"], atol=1e-5)

def test_most_similar_and_prune_match_brute_force(vecs):
    out = vecs["dir"] / "pruned"
    nlpnb_cli("init", "vectors", "en", vecs["dir"] / "v.txt", out, "--prune", "300", "--truncate", "1000")
    v = nlpnb.load(out).vocab.vectors
    data, words = vecs["data"], vecs["words"]
    assert (v.shape, v.n_keys) == ((300, 24), 1000)
    sims = unit(data[300:1000]) @ unit(data[:300]).T   # each pruned word points at a kept row of the highest cosine
    got = v.find(keys=words[300:1000])
    np.testing.assert_allclose(sims[np.arange(700), got], sims.max(axis=1), atol=1e-4)
    assert (got == sims.argmax(axis=1)).mean() > 0.99   # the same row, but for exact ties (e.g. a zero vector)
    keys, rows, scores = v.most_similar(data[:50] + 0.01, n=5, batch_size=16)
    brute = unit(data[:50] + 0.01) @ unit(data[:300]).T
    np.testing.assert_array_equal(rows, np.argsort(-brute, axis=1, kind="stable")[:, :5])
    np.testing.assert_allclose(scores, np.sort(brute, axis=1)[:, ::-1][:, :5], atol=1e-4)
    assert all(v.key2row[int(k)] == r for k, r in zip(keys.ravel(), rows.ravel()))

def test_floret_table(vecs):
    out = vecs["dir"] / "floret"
    nlpnb_cli("init", "vectors", "en", vecs["dir"] / "v.floret", out, "--mode", "floret")
    nlp = nlpnb.load(out)
    v = nlp.vocab.vectors
    assert (v.mode, v.minn, v.maxn, v.hash_count, v.hash_seed) == ("floret", 3, 5, 2, 7)
    np.testing.assert_allclose(v.data, vecs["floret"], atol=1e-5)
    doc = nlp("an unseenword")
    assert doc[1].has_vector and doc[1].vector_norm > 0 and -1 <= doc[0].similarity(doc[1]) <= 1

@pytest.mark.parametrize("name,content,expected", [
    ("short.txt", "2 3\ncat 1 0 0\ndog 0 1\n", "short.txt:3: expected 3 values after the word, found 2"),
    ("word.txt", "cat 1 0\ndog 0 one\n", "word.txt:2: expected 2 numbers after the word 'dog'"),
    ("cut.bin", None, "cut.bin: record 2 ('dog'): expected 3 float32 values, found 1"),
    ("bad.floret", "2 2 3 5 1 0 < >\n0 1 0\nx 1 1\n", "bad.floret:3: expected a row index below 2"),
])
def test_malformed_files_name_the_file_and_line(tmp_path, name, content, expected):
    if content is None:
        write_binary_vectors(tmp_path / "full.bin", ["cat", "dog"], np.ones((2, 3)))
        (tmp_path / name).write_bytes((tmp_path / "full.bin").read_bytes()[:-9])
    else: (tmp_path / name).write_text(content, encoding="utf8")
    mode = ["--mode", "floret"] if name.endswith(".floret") else []
    res = nlpnb_cli("init", "vectors", "en", tmp_path / name, tmp_path / "out", *mode, ok=False)
    assert res.returncode == 1 and expected in res.stderr and "Traceback" not in res.stderr, res.stderr
    assert not (tmp_path / "out").exists()

@pytest.mark.parametrize("mode", ["default", "floret"])
def test_train_a_tagger_with_static_vectors(vecs, tmp_path, mode):
    blocks = (DATA / "en_ewt-ud-train.conllu").read_text(encoding="utf8").split("\n\n")[:200]
    (tmp_path / "train.conllu").write_text("\n\n".join(blocks) + "\n\n", encoding="utf8")
    nlpnb_cli("convert", tmp_path / "train.conllu", tmp_path / "corpus", "-n", "10")
    source = vecs["dir"] / ("v.floret" if mode == "floret" else "v.txt")
    nlpnb_cli("init", "vectors", "en", source, tmp_path / "vectors", "--mode", mode)
    nlpnb_cli("init", "config", tmp_path / "config.cfg", "--pipeline", "tagger", "--vectors", tmp_path / "vectors")
    corpus = tmp_path / "corpus" / "train.nlpnb"
    nlpnb_cli("train", tmp_path / "config.cfg", "--output", tmp_path / "out", "--paths.train", corpus, "--paths.dev", corpus,
              "--training.max_steps", "30", "--training.eval_frequency", "15",
              "--components.tok2vec.model.encode.width", "32", "--components.tok2vec.model.embed.width", "32")
    nlp = nlpnb.load(tmp_path / "out" / "model-last")
    v = nlp.vocab.vectors
    assert v.mode == mode
    # saved with the pipeline, and never trained: the table is the file's
    if mode == "floret": np.testing.assert_allclose(v.data, vecs["floret"], atol=1e-5)
    else: np.testing.assert_allclose(v.data[v.find(keys=vecs["words"])], vecs["data"], atol=1e-5)
    doc = nlp("the cat sat on the mat .")
    assert all(t.tag_ for t in doc) and doc[0].has_vector and doc[0].vector_norm > 0
    static = [n for n in nlp.get_pipe("tok2vec").model.walk() if n.name == "static_vectors"]
    assert len(static) == 1 and static[0].get_dim("nM") == 24
