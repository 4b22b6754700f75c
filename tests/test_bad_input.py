"""Bad and hostile input (issue 20): each case gives the right result fast, or a clear error naming what is wrong."""
import time
import pytest
from nlpnb.language import blank

@pytest.fixture(scope="module")
def nlp(): return blank("en")

def timed(fn):
    "`fn()` and the CPU seconds it took (CPU, not wall, time: other processes on a busy machine don't count)."
    t0 = time.process_time(); out = fn(); return out, time.process_time() - t0

def test_long_emoji_run_is_linear(nlp):
    nlp.tokenizer("warm up")
    doc, secs = timed(lambda: nlp.tokenizer("\U0001F600" * 20_000))
    assert len(doc) == 20_000 and all(t.text == "\U0001F600" for t in doc)
    assert secs < 0.8, f"20k emoji took {secs:.2f} s"

def test_long_bracket_run_is_linear(nlp):
    n = 16_000
    doc, secs = timed(lambda: nlp.tokenizer("(" * n + "a" + ")" * n))
    assert [t.text for t in doc] == ["("] * n + ["a"] + [")"] * n
    assert secs < 0.8, f"16k brackets took {secs:.2f} s"

def test_long_dot_run_keeps_one_suffix(nlp):
    doc = nlp.tokenizer("x" * 100 + "." * 200)   # the unbounded suffix rule \.\.+ still takes the whole run
    assert [t.text for t in doc] == ["x" * 100, "." * 200]

# Example.from_dict: labels are strings, cats a dict of numbers, predicted a Doc

@pytest.fixture
def doc(nlp): return nlp.make_doc("Ada Lovelace was born in London")

def test_example_integer_entity_label(doc):
    from nlpnb.training.example import Example
    with pytest.raises(ValueError, match="label must be a string"): Example.from_dict(doc, {"entities": [(25, 31, 5)]})

def test_example_predicted_none():
    from nlpnb.training.example import Example
    with pytest.raises(ValueError, match="'predicted' must be a Doc"): Example.from_dict(None, {})

def test_example_cats_list(doc):
    from nlpnb.training.example import Example
    with pytest.raises(ValueError, match="'cats' must be a dict"): Example.from_dict(doc, {"cats": ["POS"]})

def test_example_cats_not_number(doc):
    from nlpnb.training.example import Example
    with pytest.raises(ValueError, match="'cats' score of 'POS' must be a number"): Example.from_dict(doc, {"cats": {"POS": "yes"}})

# CoNLL-U: a multi-word range over the wrong words

MWT_FILE = ("# sent_id = 1\n# text = don't go\n1-3\tdon't\t_\t_\t_\t_\t_\t_\t_\t_\n"
            "1\tdo\tdo\tAUX\tVBP\t_\t3\taux\t_\t_\n2\tn't\tnot\tPART\tRB\t_\t3\tadvmod\t_\t_\n"
            "3\tgo\tgo\tVERB\tVB\t_\t0\troot\t_\t_\n\n")

def test_conllu_range_over_wrong_words(tmp_path, capsys):
    from nlpnb.cli import main
    path = tmp_path / "mwt.conllu"
    path.write_text(MWT_FILE, encoding="utf8")
    assert main(["convert", str(path), str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}:3: ") and "multi-word token 1-3 \"don't\"" in err and "goes on with 'go'" in err, err
    assert not (tmp_path / "out" / "mwt.nlpnb").exists()

def test_conllu_range_that_fits_converts(tmp_path):
    from nlpnb.training.converters import read_conllu
    path = tmp_path / "ok.conllu"
    path.write_text(MWT_FILE.replace("1-3\t", "1-2\t"), encoding="utf8")
    assert [d.text for d in read_conllu(path)] == ["don't go "]

# Lone surrogates: no UTF-8 bytes, so no string keys; refused clearly before the string store grows

def test_lone_surrogate_in_nlp_call(nlp):
    n = len(nlp.vocab.strings)
    with pytest.raises(ValueError, match=r"lone surrogate '\\ud800' at character 2") as e: nlp("a \ud800 b")
    assert not isinstance(e.value, UnicodeError)
    assert len(nlp.vocab.strings) == n

def test_lone_surrogate_in_pipe_names_the_text(nlp):
    n = len(nlp.vocab.strings)
    docs = nlp.tokenizer.pipe(["fine text", "a \ud800 b"])
    assert next(docs).text == "fine text"
    with pytest.raises(ValueError, match="Text 1 of the stream: .*lone surrogate"): next(docs)
    assert len(nlp.vocab.strings) <= n + 2   # only "fine" and "text"
    with pytest.raises(ValueError, match="lone surrogate"): list(nlp.pipe(["ok", "b \udfff"]))

# Heads that form a cycle are refused where they enter, naming the doc/token or file/line

def test_doc_head_cycle(nlp):
    from nlpnb.tokens import Doc
    with pytest.raises(ValueError, match=r"doc 'a b c ' form a cycle through token 1 \('b'\)"):
        Doc(nlp.vocab, ["a", "b", "c"], heads=[1, 2, 1], deps=["x", "y", "z"])

def test_example_head_cycle(doc):
    from nlpnb.training.example import Example
    with pytest.raises(ValueError, match="Example 'Ada Lovelace.*form a cycle through token 0"):
        Example.from_dict(doc, {"heads": [1, 0, 3, 3, 3, 4], "deps": ["x"] * 6})

def test_conllu_head_cycle(tmp_path, capsys):
    from nlpnb.cli import main
    path = tmp_path / "cycle.conllu"
    path.write_text("1\tHi\thi\tINTJ\tUH\t_\t2\tdep\t_\t_\n2\tyou\tyou\tPRON\tPRP\t_\t1\tdep\t_\t_\n\n", encoding="utf8")
    assert main(["convert", str(path), str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err == f"error: {path}:1: the heads of word 1 go round in a cycle (expected heads that lead to the root (0))\n"

# DocBin: a small file that inflates to gigabytes is refused before it takes the memory

def _bomb(path, n_mib: int) -> None:
    "A zlib stream of `n_mib` MiB of zeros, written without ever holding them."
    import zlib
    c, zeros = zlib.compressobj(9), bytes(1 << 20)
    path.write_bytes(b"".join([c.compress(zeros) for _ in range(n_mib)] + [c.flush()]))

def test_docbin_bomb_refused_before_inflating(tmp_path, monkeypatch):
    import tracemalloc
    from nlpnb.tokens import docbin
    path = tmp_path / "bomb.nlpnb"
    _bomb(path, 64)                                         # 64 MiB of zeros in about 64 kB
    monkeypatch.setattr(docbin, "MIN_INFLATE_CAP", 1 << 20)  # the default 256 MiB floor, scaled down to keep the test small
    assert path.stat().st_size < 100_000 and docbin.inflate_cap(path.stat().st_size) < 8 << 20
    tracemalloc.start()
    try:
        with pytest.raises(docbin.DocBinError, match=f"Cannot read DocBin file '{path}': .* inflate to more than .*zip bomb"):
            docbin.DocBin().from_disk(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally: tracemalloc.stop()
    assert peak < 20 << 20, f"peak {peak >> 20} MiB"

def test_docbin_real_corpus_within_ratio(monkeypatch):
    import itertools
    from pathlib import Path
    from nlpnb.tokens import docbin
    from nlpnb.training.converters import read_conllu
    dev = Path(__file__).resolve().parents[1].parent / "shared/data/ud_en_ewt/en_ewt-ud-dev.conllu"
    if not dev.exists(): pytest.skip("no EWT data")
    monkeypatch.setattr(docbin, "MIN_INFLATE_CAP", 0)     # only the ratio: real annotated text inflates about 8 times
    data = docbin.DocBin(docs=itertools.islice(read_conllu(dev), 300)).to_bytes()
    assert len(docbin.DocBin().from_bytes(data)) == 300

# Config messages: the parser's reason with file and line; a key where a section belongs; a function that raises

def test_config_not_ini_says_why(tmp_path, capsys):
    from nlpnb.cli import main
    path = tmp_path / "g.cfg"
    path.write_text("hello world\nthis is not ini\n")
    assert main(["debug", "config", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"Invalid config {path}: File contains no section headers. file: '{path}', line: 1 'hello world\\n'" in err, err

def test_config_not_utf8_names_line(tmp_path):
    from nlpnb.config import ConfigError, load_config
    path = tmp_path / "b.cfg"
    path.write_bytes(b'[nlp]\nlang = "en"\nname = "\xff"\n')
    with pytest.raises(ConfigError, match=f"Invalid config {path}, line 3: not UTF-8 text"): load_config(path)

def test_config_key_where_a_section_belongs(tmp_path, capsys):
    from nlpnb.cli import main
    head = '[nlp]\nlang = "en"\npipeline = ["tagger"]\n\n[components]\ntagger = 5\n'
    (tmp_path / "a.cfg").write_text(head + '\n[components.tagger]\nfactory = "tagger"\n')
    (tmp_path / "b.cfg").write_text(head)
    assert main(["debug", "config", str(tmp_path / "a.cfg")]) == 1
    err = capsys.readouterr().err
    assert "[components.tagger] must be a section, but [components] also sets `tagger = ...`" in err and "conflicting" not in err, err
    assert main(["debug", "config", str(tmp_path / "b.cfg")]) == 1
    out = capsys.readouterr()
    assert "components.tagger: must be a section [components.tagger], found the value 5 under [components]" in out.out + out.err
    from nlpnb.config import ConfigError, load_config
    from nlpnb.language import Language
    with pytest.raises(ConfigError, match=r"components.tagger: must be a section \[components.tagger\], found the value 5"):
        Language.from_config(load_config(tmp_path / "b.cfg"))

def test_config_function_that_raises_names_block_and_function():
    from thinc.api import Config
    from nlpnb.language import Language
    from nlpnb.registry import registry
    @registry.architectures("rel.broken_arch.v1")
    def broken(width: int = 8): raise RuntimeError("the weights don't fit")
    cfg = Config().from_str('[nlp]\nlang = "en"\npipeline = ["tagger"]\n\n[components]\n\n[components.tagger]\nfactory = "tagger"\n\n'
                            '[components.tagger.model]\n@architectures = "rel.broken_arch.v1"\nwidth = 4\n')
    with pytest.raises(ValueError, match=r"\[components.tagger.model\] rel.broken_arch.v1 \(@architectures\) raised RuntimeError: "
                                         "the weights don't fit") as e:
        Language.from_config(cfg)
    chain, err = [], e.value
    while err is not None: chain.append(type(err).__name__); err = err.__cause__
    assert chain[-1] == "RuntimeError", chain

def test_config_tokenizer_block_that_is_not_a_tokenizer():
    from thinc.api import Config
    from nlpnb.config import ConfigError
    from nlpnb.language import Language
    cfg = Config().from_str('[nlp]\nlang = "en"\npipeline = []\n\n[nlp.tokenizer]\n@architectures = "nlpnb.HashEmbedCNN.v1"\n'
                            'width = 8\ndepth = 1\nembed_size = 100\nwindow_size = 1\nmaxout_pieces = 2\nsubword_features = true\n'
                            'pretrained_vectors = null\n\n[components]\n')
    with pytest.raises(ConfigError, match=r"\[nlp.tokenizer\] gave Model, which could not make a tokenizer"): Language.from_config(cfg)

def test_docbin_word_that_is_the_empty_string_names_file_and_doc(tmp_path):
    import zlib
    import numpy as np
    from nlpnb.language import blank
    from nlpnb.tokens.docbin import DocBin, DocBinError, decode_message, msgpack_dumps, string_keys
    from nlpnb.vocab import Vocab
    nlp = blank("en")
    msg = decode_message(DocBin(docs=[nlp("Hi"), nlp("Hello big world")]).to_bytes())
    tokens = np.frombuffer(msg["tokens"], "<u8").reshape(-1, len(msg["attrs"])).copy()
    tokens[2, 0] = string_keys([""])[0]                      # word 1 of doc 1 is "" (in the strings list, for MORPH)
    msg["tokens"] = tokens.tobytes()
    path = tmp_path / "empty-word.nlpnb"
    path.write_bytes(zlib.compress(msgpack_dumps(msg)))
    docs = DocBin().from_disk(path).get_docs(Vocab())
    assert next(docs).text == "Hi"
    with pytest.raises(DocBinError, match=f"Cannot read DocBin file '{path}': doc 1: "): next(docs)

@pytest.mark.parametrize("key,value", [("after_creation", "true"), ("after_pipeline_creation", "[1, 2]"), ("before_creation", '"x"')])
def test_config_callback_that_is_not_a_function(key, value):
    from thinc.api import Config
    from nlpnb.config import ConfigError
    from nlpnb.language import Language
    cfg = Config().from_str(f'[nlp]\nlang = "en"\npipeline = []\n{key} = {value}\n\n[components]\n')
    with pytest.raises(ConfigError, match=rf"nlp.{key} must be null or a \[nlp.{key}\] block naming a function"):
        Language.from_config(cfg)

def test_config_unknown_language_names_the_key():
    from thinc.api import Config
    from nlpnb.config import ConfigError
    from nlpnb.language import Language
    with pytest.raises(ConfigError, match=r"Invalid config: nlp.lang = 'text': \[E048\] Can't import language 'text'"):
        Language.from_config(Config().from_str('[nlp]\nlang = "text"\npipeline = []\n\n[components]\n'))

def test_config_parser_moves_that_are_a_string():
    from thinc.api import Config
    from nlpnb.config import ConfigError
    from nlpnb.language import Language
    cfg = Config().from_str('[nlp]\nlang = "en"\npipeline = ["parser"]\n\n[components]\n\n[components.parser]\nfactory = "parser"\nmoves = "nullscorer"\n')
    with pytest.raises(ConfigError, match=r"components.parser: .*Component 'parser': moves must be null .* got str 'nullscorer'"):
        Language.from_config(cfg)

def test_docbin_morph_that_is_not_feats_names_file_and_token(tmp_path):
    import zlib
    import numpy as np
    from nlpnb.language import blank
    from nlpnb.symbols import MORPH
    from nlpnb.tokens.docbin import DocBin, DocBinError, decode_message, msgpack_dumps, string_keys
    from nlpnb.tokens.doc import Doc
    nlp = blank("en")
    doc = Doc(nlp.vocab, ["Hello", "big", "world"], morphs=["", "Degree=Pos", ""])
    msg = decode_message(DocBin(docs=[doc]).to_bytes())
    tokens = np.frombuffer(msg["tokens"], "<u8").reshape(-1, len(msg["attrs"])).copy()
    tokens[1, msg["attrs"].index(MORPH)] = string_keys(["world"])[0]     # a string of the file, but not Field=Value
    msg["tokens"] = tokens.tobytes()
    path = tmp_path / "morph.nlpnb"
    path.write_bytes(zlib.compress(msgpack_dumps(msg)))
    with pytest.raises(DocBinError, match=f"Cannot read DocBin file '{path}': column MORPH at doc 0, token 1 .*'world' is not a FEATS string"):
        DocBin().from_disk(path)
    tokens[1, msg["attrs"].index(MORPH)] = 153                            # a symbol id, whose string is no FEATS either
    msg["tokens"] = tokens.tobytes()
    path.write_bytes(zlib.compress(msgpack_dumps(msg)))
    with pytest.raises(DocBinError, match=r"column MORPH at doc 0, token 1 holds 153: 'DEPRECATED\d+' is not a FEATS string"):
        DocBin().from_disk(path)
