"""Corpus readers, batchers and augmenters on real data: a slice of UD English EWT written as .nlpnb, read
through readers resolved from a config's [corpora] and [training] blocks, as the training loop will."""
import importlib.util, itertools, random, sys
from collections import Counter
from pathlib import Path

import pytest
import srsly
from thinc.api import fix_random_seed

from nlpnb.config import apply_overrides, config_from_str
from nlpnb.language import blank
from nlpnb.registry import registry
from nlpnb.tokens import DocBin
from nlpnb.training.converters import read_conllu
from nlpnb.training.corpus import CorpusPathError, resolve_dot_names
import nlpnb.training.augment, nlpnb.training.batchers  # noqa: F401  (registrations)

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
EWT_DEV = DATA / "ud_en_ewt" / "en_ewt-ud-dev.conllu"
FIXTURES = ROOT / "tests" / "fixtures"
needs_data = pytest.mark.skipif(not EWT_DEV.exists(), reason="../shared/data is missing")
N_SENTS, PER_DOC = 300, 10

CONFIG = """
[paths]
train = "{train}"
dev = "{dev}"

[corpora]

[corpora.train]
@readers = "nlpnb.Corpus.v1"
path = ${{paths.train}}
gold_preproc = false
max_length = 0
limit = 0
shuffle = false
augmenter = null

[corpora.dev]
@readers = "nlpnb.Corpus.v1"
path = ${{paths.dev}}
gold_preproc = false
max_length = 0
limit = 0

[training]
train_corpus = "corpora.train"
dev_corpus = "corpora.dev"
seed = 0

[training.batcher]
@batchers = "nlpnb.batch_by_words.v1"
discard_oversize = false
tolerance = 0.2

[training.batcher.size]
@schedules = "compounding.v1"
start = 100
stop = 1000
compound = 1.5
"""


def ewt_slice(path: Path, n_sents: int) -> str:
    "The first `n_sents` sentences of a CoNLL-U file."
    out, n = [], 0
    with path.open(encoding="utf8") as f:
        for line in f:
            out.append(line)
            if not line.strip():
                n += 1
                if n == n_sents: break
    return "".join(out)


@pytest.fixture(scope="module")
def ewt(tmp_path_factory):
    "EWT dev's first 300 sentences as docs of 10 sentences: train.nlpnb, and dev split over a directory."
    if not EWT_DEV.exists(): pytest.skip("../shared/data is missing")
    tmp = tmp_path_factory.mktemp("ewt")
    (tmp / "slice.conllu").write_text(ewt_slice(EWT_DEV, N_SENTS), encoding="utf8")
    docs = list(read_conllu(tmp / "slice.conllu", n_sents=PER_DOC))
    DocBin(docs=docs).to_disk(tmp / "train.nlpnb")
    (tmp / "dev" / "part").mkdir(parents=True)
    DocBin(docs=docs[:10]).to_disk(tmp / "dev" / "a.nlpnb")
    DocBin(docs=docs[10:20]).to_disk(tmp / "dev" / "part" / "b.spacy")
    DocBin(docs=docs[20:]).to_disk(tmp / "dev" / "c.nlpnb")
    return tmp, docs


@pytest.fixture(scope="module")
def nlp():
    return blank("en")


def make_config(tmp, **overrides):
    config = config_from_str(CONFIG.format(train=tmp / "train.nlpnb", dev=tmp / "dev"))
    return apply_overrides(config, overrides)[0]


def corpora(config):
    T = config["training"]
    return resolve_dot_names(config, [T["train_corpus"], T["dev_corpus"]])


def test_reads_every_doc_through_the_config(ewt, nlp):
    tmp, docs = ewt
    train, dev = corpora(make_config(tmp))
    train_egs = list(train(nlp))
    assert len(docs) == N_SENTS // PER_DOC
    assert [eg.reference.words for eg in train_egs] == [d.words for d in docs]
    assert all(eg.predicted.text == eg.reference.text for eg in train_egs)
    assert any(eg.predicted.words != eg.reference.words for eg in train_egs)  # our tokenizer, not the gold tokens
    assert [t.tag_ for t in train_egs[0].reference] == [t.tag_ for t in docs[0]]
    assert len(list(dev(nlp))) == len(docs)


def test_directory_order_and_spacy_files(ewt, nlp):
    tmp, docs = ewt
    _, dev = corpora(make_config(tmp))
    order = docs[:10] + docs[20:] + docs[10:20]  # sorted paths: a.nlpnb, c.nlpnb, part/b.spacy
    assert [eg.text for eg in dev(nlp)] == [d.text for d in order]
    spacy_corpus = registry.get("readers", "nlpnb.Corpus.v1")(FIXTURES / "annotated.spacy")
    expected = srsly.read_json(FIXTURES / "annotated.json")
    assert len(list(spacy_corpus(nlp))) == len([d for d in expected if d["words"]])


def test_streams_file_by_file(ewt, nlp, monkeypatch):
    tmp, _ = ewt
    loaded = []
    original = DocBin.from_disk
    monkeypatch.setattr(DocBin, "from_disk", lambda self, path: loaded.append(Path(path).name) or original(self, path))
    _, dev = corpora(make_config(tmp))
    stream = dev(nlp)
    next(stream)
    assert loaded == ["a.nlpnb"]
    list(stream)
    assert loaded == ["a.nlpnb", "c.nlpnb", "b.spacy"]


def test_limit_and_max_length(ewt, nlp):
    tmp, docs = ewt
    train, _ = corpora(make_config(tmp, **{"corpora.train.limit": 7}))
    assert [eg.text for eg in train(nlp)] == [d.text for d in docs[:7]]
    train, _ = corpora(make_config(tmp, **{"corpora.train.max_length": 25}))
    egs = list(train(nlp))
    sents = [s for d in docs for s in (d.sents if len(d) > 25 else [d[:]])]
    assert len(egs) == sum(len(s) <= 25 for s in sents)
    assert max(len(eg.reference) for eg in egs) <= 25
    assert all(eg.predicted.text == eg.reference.text for eg in egs)


def test_gold_preproc_gives_one_example_per_sentence(ewt, nlp):
    tmp, docs = ewt
    train, _ = corpora(make_config(tmp, **{"corpora.train.gold_preproc": True}))
    egs = list(train(nlp))
    assert len(egs) == N_SENTS
    assert all(eg.predicted.words == eg.reference.words for eg in egs)
    assert all(eg.reference[0].is_sent_start and len(list(eg.reference.sents)) == 1 for eg in egs)
    assert sum(len(eg) for eg in egs) == sum(len(d) for d in docs)


def test_shuffle_is_fixed_by_the_seed(ewt, nlp):
    tmp, docs = ewt
    train, dev = corpora(make_config(tmp, **{"corpora.train.shuffle": True}))
    dev.shuffle = True

    def epoch(corpus, seed):
        fix_random_seed(seed)
        return [eg.text for eg in corpus(nlp)]

    for corpus in (train, dev):
        first = epoch(corpus, 0)
        assert first == epoch(corpus, 0)
        assert first != epoch(corpus, 1)
        assert sorted(first) == sorted(d.text for d in docs)
        fix_random_seed(0)
        assert [eg.text for eg in corpus(nlp)] != [eg.text for eg in corpus(nlp)]  # a new order each epoch


def test_shuffle_with_limit_keeps_the_same_docs(ewt, nlp):
    tmp, docs = ewt
    train, _ = corpora(make_config(tmp, **{"corpora.train.shuffle": True, "corpora.train.limit": 5}))
    fix_random_seed(0)
    epochs = [[eg.text for eg in train(nlp)] for _ in range(3)]
    assert all(sorted(e) == sorted(d.text for d in docs[:5]) for e in epochs)


def test_missing_and_unset_paths_are_named(ewt, tmp_path):
    tmp, _ = ewt
    config = make_config(tmp, **{"paths.train": str(tmp_path / "nope.nlpnb")})
    with pytest.raises(CorpusPathError, match=r"\[corpora.train\].*corpus path not found: .*nope.nlpnb"):
        corpora(config)
    config = make_config(tmp, **{"paths.train": None})
    with pytest.raises(CorpusPathError, match=r"corpora.train.path = \$\{paths.train\}, and paths.train is not set.*--paths.train"):
        corpora(config)
    train, = resolve_dot_names(make_config(tmp), ["corpora.train"])  # dev is not needed to train
    assert train is not None


@registry.readers("test_endless_ewt.v1")
def endless_reader(path: Path):
    "A user's reader that cycles through a corpus forever."
    def read(nlp):
        docs = list(DocBin().from_disk(path).get_docs(nlp.vocab))
        for doc in itertools.cycle(docs):
            yield from (eg for eg in _examples(nlp, doc))
    return read


def _examples(nlp, doc):
    from nlpnb.training.corpus import doc_pieces, make_example
    return (make_example(nlp, sent) for sent in doc_pieces(doc, by_sentence=True))


def test_endless_user_reader_with_batcher(ewt, nlp):
    tmp, _ = ewt
    config = make_config(tmp)
    config["corpora"]["train"] = {"@readers": "test_endless_ewt.v1", "path": "${paths.train}"}
    train, batcher = resolve_dot_names(config, ["corpora.train", "training.batcher"])
    batches = list(itertools.islice(batcher(train(nlp)), 40))  # 40 batches of a stream that never ends
    sizes = [sum(len(eg) for eg in b) for b in batches]
    assert sum(len(b) for b in batches) > N_SENTS  # went round the corpus more than once
    assert sizes[0] <= 120 and sizes[-1] > 500  # compounding from 100 towards 1000


CODE = '''
import random
from nlpnb.registry import registry

@registry.augmenters("test_spongebob.v1")
def create_augmenter(randomize: bool = False):
    def augment(nlp, example):
        text = example.reference.text
        if randomize:
            chars = [c.lower() if random.random() < 0.5 else c.upper() for c in text]
        else:
            chars = [c.lower() if i % 2 else c.upper() for i, c in enumerate(text)]
        text = "".join(chars)
        example_dict = example.to_dict()
        example_dict["words"] = [text[t.idx : t.idx + len(t)] for t in example.reference]
        doc = nlp.make_doc(text)
        yield example
        yield example.from_dict(doc, example_dict)
    return augment
'''


def import_code(path: Path) -> None:
    "What `--code path` does: import the file so its registrations run."
    spec = importlib.util.spec_from_file_location("user_code", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["user_code"] = module
    spec.loader.exec_module(module)


def test_spongebob_augmenter_from_code_file(ewt, nlp, tmp_path):
    tmp, docs = ewt
    (tmp_path / "functions.py").write_text(CODE)
    import_code(tmp_path / "functions.py")
    config = make_config(tmp)
    config["corpora"]["train"]["augmenter"] = {"@augmenters": "test_spongebob.v1", "randomize": False}
    train, _ = corpora(config)
    egs = list(train(nlp))
    assert len(egs) == 2 * len(docs)
    for original, sponge in zip(egs[::2], egs[1::2]):
        assert sponge.text == "".join(c.lower() if i % 2 else c.upper() for i, c in enumerate(original.text))
        assert [t.tag_ for t in sponge.reference] == [t.tag_ for t in original.reference]
        assert [t.head.i for t in sponge.reference] == [t.head.i for t in original.reference]
        assert len(sponge.alignment.x2y) == len(sponge.predicted)


def test_orth_variants_on_ewt(ewt, nlp, tmp_path):
    tmp, _ = ewt
    rules = {"single": [{"tags": [":"], "variants": ["-", "—", "--"]}, {"tags": ["NFP"], "variants": ["...", "…"]}],
             "paired": [{"tags": ["``", "''"], "variants": [['"', '"'], ["“", "”"], ["``", "''"]]}]}
    srsly.write_json(tmp_path / "orth_variants.json", rules)
    config = make_config(tmp)
    config["corpora"]["train"]["augmenter"] = {
        "@augmenters": "nlpnb.orth_variants.v1", "level": 1.0, "lower": 0.5,
        "orth_variants": {"@readers": "srsly.read_json.v1", "path": str(tmp_path / "orth_variants.json")}}
    train, _ = corpora(config)
    fix_random_seed(0)
    egs = list(train(nlp))
    plain = list(corpora(make_config(tmp))[0](nlp))
    assert len(egs) == len(plain)
    changed = 0
    for eg, orig in zip(egs, plain):
        assert [t.tag_ for t in eg.reference] == [t.tag_ for t in orig.reference]
        for new, old, tag in zip(eg.reference.words, orig.reference.words, (t.tag_ for t in orig.reference)):
            if new.lower() != old.lower():
                changed += 1
                assert tag in (":", "NFP", "``", "''"), (old, new, tag)
        eg.alignment  # the respelled text still aligns with its new tokenization
    assert changed > 0
    assert 0 < sum(eg.text == eg.text.lower() for eg in egs) < len(egs)


def test_batch_by_words_on_ewt(ewt, nlp):
    tmp, _ = ewt
    train, _ = corpora(make_config(tmp, **{"corpora.train.gold_preproc": True}))
    egs = list(train(nlp))
    for size, tolerance in ((200, 0.2), (60, 0.0), (35, 0.5)):
        config = config_from_str(f'[b]\n@batchers = "nlpnb.batch_by_words.v1"\nsize = {size}\ntolerance = {tolerance}')
        batches = list(registry.resolve(config)["b"](egs))
        assert Counter(id(eg) for b in batches for eg in b) == Counter(id(eg) for eg in egs)
        for b in batches:
            n = sum(len(eg) for eg in b)
            assert n <= size * (1 + tolerance) or (len(b) == 1 and n > size * (1 + tolerance)), (size, n, len(b))
        full = [sum(len(eg) for eg in b) for b in batches[:-1] if len(b) > 1]
        assert sum(full) / len(full) > 0.7 * size  # batches are filled, not cut short
        config["b"]["discard_oversize"] = True
        kept = [eg for b in registry.resolve(config)["b"](egs) for eg in b]
        assert len(kept) == sum(len(eg) <= size * (1 + tolerance) for eg in egs)


def test_batch_by_padded_and_sequence_on_ewt(ewt, nlp):
    tmp, _ = ewt
    train, _ = corpora(make_config(tmp, **{"corpora.train.gold_preproc": True}))
    egs = list(train(nlp))
    padded = registry.get("batchers", "nlpnb.batch_by_padded.v1")(size=400, buffer=64)
    batches = list(padded(egs))
    assert sorted(id(eg) for b in batches for eg in b) == sorted(id(eg) for eg in egs)
    assert all(max(len(eg) for eg in b) * len(b) <= 400 or len(b) == 1 for b in batches)
    by_seq = registry.get("batchers", "nlpnb.batch_by_sequence.v1")(size=32)
    assert [len(b) for b in by_seq(egs)] == [32] * (N_SENTS // 32) + [N_SENTS % 32]


def test_jsonl_corpus_on_sst2(nlp, tmp_path):
    sst = DATA / "sst2" / "dev.tsv"
    if not sst.exists(): pytest.skip("../shared/data is missing")
    lines = sst.read_text(encoding="utf8").splitlines()[1:101]
    srsly.write_jsonl(tmp_path / "texts.jsonl", [{"text": line.split("\t")[0].strip()} for line in lines])
    config = config_from_str(f'[pretrain]\n@readers = "nlpnb.JsonlCorpus.v1"\npath = "{tmp_path}"\n'
                             'min_length = 5\nmax_length = 20\nlimit = 0')
    corpus, = resolve_dot_names(config, ["pretrain"])
    egs = list(corpus(nlp))
    lengths = [len(nlp.make_doc(line.split("\t")[0].strip())) for line in lines]
    assert len(egs) == sum(5 <= n <= 20 for n in lengths)
    corpus.limit = 10
    assert len(list(corpus(nlp))) == 10


SPACY_PYTHON = ROOT / "benchmarks" / ".venv" / "bin" / "python"
PARITY = """
import json, sys
from spacy.training.batchers import minibatch_by_words, minibatch_by_padded_size
out = []
for case in json.load(sys.stdin):
    L, size, tol = case["lengths"], case["size"], case["tolerance"]
    seqs = [[i] + [0] * (n - 1) for i, n in enumerate(L)]
    words = minibatch_by_words(seqs, size, tolerance=tol, discard_oversize=case["discard"])
    padded = minibatch_by_padded_size(seqs, size, buffer=32)
    out.append([[[s[0] for s in b] for b in words], [[s[0] for s in b] for b in padded]])
json.dump(out, sys.stdout)
"""


@pytest.mark.skipif(not SPACY_PYTHON.exists(), reason="needs benchmarks/.venv (bash benchmarks/setup.sh)")
def test_batches_match_spacy(ewt, nlp):
    "The same items in the same batches as spaCy 3.8, for EWT sentence lengths and random ones."
    import json, subprocess
    from nlpnb.training.batchers import minibatch_by_padded_size, minibatch_by_words
    _, docs = ewt
    r = random.Random(0)
    cases = [{"lengths": [len(s) for d in docs for s in d.sents], "size": 200, "tolerance": 0.2, "discard": False}]
    cases += [{"lengths": [r.randint(1, 60) for _ in range(r.randint(0, 150))], "size": r.choice([50, 100, 300]),
               "tolerance": r.choice([0.0, 0.2, 0.5]), "discard": r.random() < 0.5} for _ in range(100)]
    res = subprocess.run([str(SPACY_PYTHON), "-c", PARITY], input=json.dumps(cases), capture_output=True, text=True, timeout=300)
    if res.returncode and "No module named 'spacy'" in res.stderr: pytest.skip("benchmarks/.venv has no spaCy")
    assert res.returncode == 0, res.stderr
    for case, (words, padded) in zip(cases, json.loads(res.stdout)):
        L = case["lengths"]
        ours = minibatch_by_words(range(len(L)), case["size"], tolerance=case["tolerance"], discard_oversize=case["discard"],
                                  get_length=L.__getitem__)
        assert list(ours) == words
        assert list(minibatch_by_padded_size(range(len(L)), case["size"], buffer=32, get_length=L.__getitem__)) == padded
