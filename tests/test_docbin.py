"""DocBin: spaCy's .spacy files read exactly, our files byte-compatible, corrupt input rejected clearly.

Fixtures in tests/fixtures/ were written by spaCy 3.8 with make_spacy_fixtures.py (sentences made up for
these tests); each .json holds the annotations spaCy itself reads back from the .spacy file next to it.
"""
import json, os, random, subprocess, time, zlib
from pathlib import Path

import numpy as np
import pytest
import srsly

from nlpnb.symbols import DEP, ENT_IOB, HEAD, ORTH, POS, SENT_START, TAG
from nlpnb.strings import hash_string
from nlpnb.tokens import Doc, DocBin, Span
from nlpnb.tokens.docbin import DocBinError, decode_message
from nlpnb.vocab import Vocab

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
DATA = ROOT.parent / "shared" / "data"
SPACY_PYTHON = ROOT / "benchmarks" / ".venv" / "bin" / "python"


def annotations(doc):
    "What the fixture JSON records, read through our Doc API (the same keys as make_spacy_fixtures.py)."
    return {
        "text": doc.text,
        "words": [t.text for t in doc],
        "spaces": [bool(t.whitespace_) for t in doc],
        "tags": [t.tag_ for t in doc],
        "pos": [t.pos_ for t in doc],
        "morphs": [str(t.morph) for t in doc],
        "lemmas": [t.lemma_ for t in doc],
        "norms": [t.norm_ for t in doc],
        "heads": [t.head.i for t in doc],
        "deps": [t.dep_ for t in doc],
        "ent_iobs": [t.ent_iob_ for t in doc],
        "ent_types": [t.ent_type_ for t in doc],
        "ent_kb_ids": [t.ent_kb_id_ for t in doc],
        "ent_ids": [t.ent_id_ for t in doc],
        "ents": [[e.start, e.end, e.label_, e.kb_id_] for e in doc.ents],
        "sent_starts": [t.is_sent_start for t in doc],
        "has": {a: doc.has_annotation(a) for a in ["TAG", "POS", "MORPH", "LEMMA", "DEP", "ENT_IOB", "SENT_START"]},
        "cats": doc.cats,
        "spans": {key: {"name": g.name, "attrs": g.attrs,
                        "spans": [[s.start, s.end, s.label_, s.kb_id_, s.id_, s.start_char, s.end_char] for s in g]}
                  for key, g in doc.spans.items()},
    }


def as_json(x):
    "Tuples (from msgpack with use_list=False) as lists, the way JSON holds them."
    return json.loads(json.dumps(x))


def check_against(docs, expected):
    assert len(docs) == len(expected)
    for i, (doc, exp) in enumerate(zip(docs, expected)):
        got = as_json(annotations(doc))
        if len(doc) < 2:  # spaCy looks past the first token, and says True when there is nothing there
            got["has"] = {k: exp["has"][k] if k == "SENT_START" or not len(doc) else v for k, v in got["has"].items()}
        for key, value in got.items():
            assert value == exp[key], f"doc {i}: {key}"


# -- reading spaCy's files ------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["annotated", "legacy"])
def test_reads_every_annotation_of_a_spacy_file(name):
    docs = list(DocBin().from_disk(FIXTURES / f"{name}.spacy").get_docs(Vocab()))
    check_against(docs, json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf8")))


def test_reads_user_data_with_extension_keys():
    db = DocBin().from_disk(FIXTURES / "user_data.spacy")
    assert db.store_user_data  # kept, so writing the DocBin back keeps the user data
    docs = list(db.get_docs(Vocab()))
    expected = json.loads((FIXTURES / "user_data.json").read_text(encoding="utf8"))
    check_against(docs, expected)
    for doc, exp in zip(docs, expected):
        assert as_json([[k, v] for k, v in doc.user_data.items()]) == exp["user_data"]
    assert docs[0].user_data[("._.", "score", None, None)] == 0.5


@pytest.mark.parametrize("name", ["annotated", "user_data", "legacy"])
def test_spacy_bytes_round_trip_unchanged(name):
    data = (FIXTURES / f"{name}.spacy").read_bytes()
    db = DocBin().from_bytes(data)
    if name == "legacy":  # written back in the current layout: flags added, span groups as a map
        assert len(DocBin().from_bytes(db.to_bytes())) == len(db)
    else:
        assert db.to_bytes() == data


def test_our_docs_encode_exactly_like_spacy():
    "Docs rebuilt from a spaCy file and added to a new DocBin give spaCy's msgpack again."
    theirs = (FIXTURES / "annotated.spacy").read_bytes()
    docs = list(DocBin().from_bytes(theirs).get_docs(Vocab()))
    ours, expected = decode_message(DocBin(docs=docs).to_bytes()), decode_message(theirs)
    assert ours == expected


def test_unknown_spaces_flag_survives():
    docs = list(DocBin().from_disk(FIXTURES / "annotated.spacy").get_docs(Vocab()))
    flags = decode_message(DocBin(docs=docs).to_bytes())["flags"]
    assert [f["has_unknown_spaces"] for f in flags] == [False, False, True, True, False]


@pytest.mark.skipif(not SPACY_PYTHON.exists(), reason="needs benchmarks/.venv (bash benchmarks/setup.sh)")
def test_spacy_reads_our_file(tmp_path):
    "spaCy 3.8 reads a .nlpnb file we wrote and finds every annotation we put in."
    vocab = Vocab()
    docs = list(DocBin().from_disk(FIXTURES / "annotated.spacy").get_docs(vocab)) + unicode_docs(vocab)
    DocBin(docs=docs).to_disk(tmp_path / "ours.nlpnb")
    script = (f"import sys, json; sys.path.insert(0, {str(FIXTURES)!r}); import spacy; from spacy.tokens import DocBin; "
              f"from make_spacy_fixtures import annotations; "
              f"docs = DocBin().from_disk({str(tmp_path / 'ours.nlpnb')!r}).get_docs(spacy.blank('en').vocab); "
              f"print(json.dumps([annotations(d) for d in docs]))")
    res = subprocess.run([str(SPACY_PYTHON), "-c", script], capture_output=True, text=True, timeout=300)
    if res.returncode and "No module named 'spacy'" in res.stderr: pytest.skip("benchmarks/.venv has no spaCy")
    assert res.returncode == 0, res.stderr
    expected = json.loads(res.stdout)
    check_against(docs, expected)


# -- our own round trips ----------------------------------------------------------------------------

def unicode_docs(vocab):
    "Emoji (ZWJ sequences, skin tones, flags), combining marks, right-to-left text, zero-width characters."
    words = ["\U0001F469\u200D\U0001F467\u200D\U0001F466", "\U0001F1EF\U0001F1F5", "n\u0303", "A\u030A",
             "\u05D1\u05BC\u05B0\u05E8\u05B5\u05D0\u05E9\u05C1\u05B4\u05D9\u05EA", "\u0627\u0644\u0633\u0651\u064E\u0644\u0627\u0645",
             "\u200B", "a\u200Cb", "\u2067\u05D0\u2069", "\uFEFF", "\U00010348", "\u0BA4\u0BAE\u0BBF\u0BB4\u0BCD"]
    doc = Doc(vocab, words=words, spaces=[i % 3 != 0 for i in range(len(words))],
              tags=["\u05EA\u05D2", "\U0001F3F3", "X\u0301", "NN", "NN", "NN", "SP", "NN", "NN", "SP", "NN", "NN"],
              lemmas=[w[::-1] for w in words], ents=["B-\U0001F600", "L-\U0001F600"] + ["O"] * 10,
              heads=[1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1], deps=["\u05E7\u05E9\u05E8"] + ["ROOT"] + ["dep"] * 10)
    doc.cats = {"\u0627\u0644\u0641\u0626\u0629": 1.0, "\U0001F600": 0.0}
    doc.spans["\u200Bkey"] = [Span(doc, 4, 6, "\u05E9\u05DD", kb_id="\u200D", span_id="\U0001F9EA")]
    doc.spans["\u200Bkey"].attrs["\u00E9"] = ["\u200B", "\U0001F600"]
    doc.user_data["\u05E9"] = "\u200B\u200C\u200D"
    return [doc, Doc(vocab, words=["\u200B"], spaces=[False])]


def test_unicode_round_trips_through_a_file(tmp_path):
    vocab = Vocab()
    docs = unicode_docs(vocab)
    DocBin(store_user_data=True, docs=docs).to_disk(tmp_path / "u.nlpnb")
    back = list(DocBin().from_disk(tmp_path / "u.nlpnb").get_docs(Vocab()))
    assert [annotations(d) for d in back] == [annotations(d) for d in docs]
    assert back[0].user_data == {"\u05E9": "\u200B\u200C\u200D"}
    assert back[0].text == docs[0].text and len(back[0].text) == len(docs[0].text)


def test_attrs_choose_the_columns():
    vocab = Vocab()
    doc = Doc(vocab, words=["A", "b"], tags=["DT", "NN"], lemmas=["a", "b"], heads=[1, 1], deps=["det", "ROOT"])
    db = DocBin(attrs=["TAG", "spacy"], docs=[doc])
    assert db.attrs == [ORTH, TAG]
    back = next(DocBin().from_bytes(db.to_bytes()).get_docs(Vocab()))
    assert [t.tag_ for t in back] == ["DT", "NN"]
    assert not back.has_annotation("LEMMA") and not back.has_annotation("DEP")
    assert "a" not in decode_message(db.to_bytes())["strings"]  # lemma strings are not carried


def test_lexical_columns_are_stored_and_recomputed_on_reading():
    vocab = Vocab()
    doc = Doc(vocab, words=["Hello", "World"], tags=["UH", "NN"])
    db = DocBin(attrs=["LOWER", "SHAPE", "IS_TITLE", "TAG"], docs=[doc])
    back = next(DocBin().from_bytes(db.to_bytes()).get_docs(Vocab()))
    assert [(t.lower_, t.shape_, t.tag_) for t in back] == [("hello", "Xxxxx", "UH"), ("world", "Xxxxx", "NN")]


def test_merge_len_and_empty():
    vocab = Vocab()
    a = DocBin(docs=[Doc(vocab, words=["one"])])
    b = DocBin(docs=[Doc(vocab, words=["two", "three"]), Doc(vocab, words=[])])
    a.merge(b)
    assert len(a) == 3 and repr(a).startswith("DocBin(3 docs, 3 tokens")
    assert [d.text for d in DocBin().from_bytes(a.to_bytes()).get_docs(Vocab())] == ["one ", "two three ", ""]
    assert len(DocBin().from_bytes(DocBin().to_bytes())) == 0


def test_get_docs_is_lazy():
    vocab = Vocab()
    db = DocBin(docs=[Doc(vocab, words=[str(i)]) for i in range(3)])
    gen = db.get_docs(Vocab())
    assert next(gen).text == "0 " and next(gen).text == "1 "


def test_add_rejects_a_key_without_a_string():
    vocab = Vocab()
    doc = Doc(vocab, words=["a"])
    doc.from_array([TAG], np.array([[12345678901234567]], dtype=np.uint64))
    with pytest.raises(ValueError, match="TAG holds key 12345678901234567, which is not in the doc"):
        DocBin(docs=[doc])


# -- files: atomic writes ---------------------------------------------------------------------------

def test_to_disk_is_atomic(tmp_path, monkeypatch):
    vocab = Vocab()
    path = tmp_path / "corpus.nlpnb"
    DocBin(docs=[Doc(vocab, words=["old"])]).to_disk(path)
    old = path.read_bytes()
    new = DocBin(docs=[Doc(vocab, words=["new"])])
    data = new.to_bytes()

    def crash(fd):
        raise OSError("disk full")
    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="disk full"):
        new.to_disk(path)
    assert path.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus.nlpnb"]  # the temporary file is gone
    monkeypatch.undo()
    new.to_disk(path)
    assert path.read_bytes() == data


def test_to_disk_makes_folders_and_respects_umask(tmp_path):
    path = tmp_path / "a" / "b" / "c.nlpnb"
    old = os.umask(0o027)
    try: DocBin().to_disk(path)
    finally: os.umask(old)
    assert path.exists()
    # the mode follows the umask at the time of writing, as open() would (nlpnb.util.write_file_atomic)
    assert path.stat().st_mode & 0o777 == 0o666 & ~0o027


# -- corrupt input ------------------------------------------------------------------------------------

def compress(msg):
    return zlib.compress(srsly.msgpack_dumps(msg))


def good_msg():
    return decode_message((FIXTURES / "annotated.spacy").read_bytes())


def rows(msg):
    return np.frombuffer(msg["tokens"], "<u8").reshape(-1, len(msg["attrs"])).copy()


def with_column(msg, attr, row, value):
    tokens = rows(msg)
    tokens[row, msg["attrs"].index(attr)] = np.uint64(value % 2**64)
    return {**msg, "tokens": tokens.tobytes()}


def with_span_groups(msg, doc, blob):
    groups = list(msg["span_groups"])
    groups[doc] = blob
    return {**msg, "span_groups": groups}


def span_group(start, end, label=0):
    from nlpnb.tokens.docbin import GroupRecord, SpanRecord, span_groups_to_bytes
    return span_groups_to_bytes({"sc": GroupRecord("sc", {}, [SpanRecord(0, 0, label, start, end, 0, 0)])})


CORRUPT = {
    "empty file": (lambda m: b"", "it is empty"),
    "not zlib": (lambda m: b"PK\x03\x04 a zip file", "not a zlib-compressed DocBin"),
    "two files concatenated": (lambda m: compress(m) * 2, "extra data follow the zlib stream"),
    "zlib of text": (lambda m: zlib.compress(b"hello"), "invalid msgpack"),
    "a list, not a map": (lambda m: compress([1, 2]), "expected a msgpack map, got list"),
    "missing keys": (lambda m: compress({k: v for k, v in m.items() if k not in ("tokens", "lengths")}),
                     "missing keys ['tokens', 'lengths']"),
    "future version": (lambda m: compress({**m, "version": "2.0"}), "unsupported format version '2.0'"),
    "attrs not ints": (lambda m: compress({**m, "attrs": ["ORTH"]}), "attrs must be a list of int"),
    "attrs unknown": (lambda m: compress({**m, "attrs": m["attrs"][:-1] + [77777]}), "unknown attribute ids [77777]"),
    "attrs without ORTH": (lambda m: compress({**m, "attrs": m["attrs"][1:]}), "must include ORTH"),
    "tokens cut": (lambda m: compress({**m, "tokens": m["tokens"][:-8]}), "tokens holds"),
    "tokens odd size": (lambda m: compress({**m, "tokens": m["tokens"][:-3]}), "not a multiple of 8"),
    "tokens not bytes": (lambda m: compress({**m, "tokens": "abc"}), "tokens must be bytes"),
    "one more doc in lengths": (lambda m: compress({**m, "lengths": m["lengths"] + b"\x01\0\0\0"}), "lengths say"),
    "lengths odd size": (lambda m: compress({**m, "lengths": m["lengths"] + b"\0"}), "not a multiple of 4"),
    "negative length": (lambda m: compress({**m, "lengths": np.array([-9, 19, 0, 3, 4], "<i4").tobytes()}),
                        "negative doc length"),
    "spaces short": (lambda m: compress({**m, "spaces": m["spaces"][:-1]}), "spaces holds 25 values for 26 tokens"),
    "spaces not bool": (lambda m: compress({**m, "spaces": b"\x07" * len(m["spaces"])}), "other than 0 and 1"),
    "strings not str": (lambda m: compress({**m, "strings": [1, 2]}), "strings must be a list of str"),
    "a string missing": (lambda m: compress({**m, "strings": [s for s in m["strings"] if s != "London"]}),
                         "column ORTH at doc 0, token 7 holds"),
    "head outside doc": (lambda m: compress(with_column(m, HEAD, 9, -1)), "column HEAD at doc 1, token 0 holds"),
    "ENT_IOB 7": (lambda m: compress(with_column(m, ENT_IOB, 3, 7)), "ENT_IOB must be 0"),
    "SENT_START 5": (lambda m: compress(with_column(m, SENT_START, 22, 5)), "doc 4, token 0 holds 5: SENT_START"),
    "POS not a POS": (lambda m: compress(with_column(m, POS, 0, hash_string("NOUN"))), "not a POS symbol"),
    "DEP unknown": (lambda m: compress(with_column(m, DEP, 1, 42424242424242)), "column DEP at doc 0, token 1"),
    "cats short": (lambda m: compress({**m, "cats": m["cats"][:2]}), "cats holds 2 entries for 5 docs"),
    "cats not dicts": (lambda m: compress({**m, "cats": [1] * 5}), "cats of doc 0 is a int"),
    "flags not a list": (lambda m: compress({**m, "flags": {}}), "flags must be a list"),
    "span groups garbage": (lambda m: compress(with_span_groups(m, 1, b"\xc1\xc1")), "doc 1: span groups: invalid msgpack"),
    "span past the doc": (lambda m: compress(with_span_groups(m, 3, span_group(1, 4))),
                          "doc 3: span group 'sc' has a span over tokens 1..4 in a doc of 3 tokens"),
    "span reversed": (lambda m: compress(with_span_groups(m, 0, span_group(5, 2))), "over tokens 5..2"),
    "span label missing": (lambda m: compress(with_span_groups(m, 0, span_group(0, 1, 987654321987))),
                           "span label 987654321987 with no string"),
    "span 39 bytes": (lambda m: compress(with_span_groups(m, 0, srsly.msgpack_dumps(
        {srsly.msgpack_dumps({"name": "x", "attrs": {}, "spans": [b"\0" * 39]}): ["x"]}))), "must be 40 bytes"),
    "user_data garbage": (lambda m: compress({**m, "user_data": [None, b"\xc1", None, None, None]}),
                          "user_data of doc 1: invalid msgpack"),
    "user_data short": (lambda m: compress({**m, "user_data": [None]}), "user_data holds 1 entries for 5 docs"),
}


@pytest.mark.parametrize("case", list(CORRUPT))
def test_corrupt_file_names_file_and_problem(tmp_path, case):
    make, message = CORRUPT[case]
    path = tmp_path / "bad.nlpnb"
    path.write_bytes(make(good_msg()))
    db = DocBin(docs=[Doc(Vocab(), words=["kept"])])
    with pytest.raises(DocBinError) as err:
        db.from_disk(path)
    assert f"Cannot read DocBin file '{path}'" in str(err.value)
    assert message in str(err.value)
    assert isinstance(err.value, ValueError)
    assert [d.text for d in db.get_docs(Vocab())] == ["kept "]  # a failed load changes nothing


def test_every_truncation_is_reported():
    data = (FIXTURES / "annotated.spacy").read_bytes()
    for n in range(len(data)):
        with pytest.raises(DocBinError, match="Cannot read DocBin data: (it is empty|the zlib stream is truncated|not a zlib)"):
            DocBin().from_bytes(data[:n])


def test_every_flipped_bit_is_reported_or_harmless():
    "A flipped bit is caught by zlib's checks or ours, or it sits in deflate padding and changes nothing."
    data = (FIXTURES / "annotated.spacy").read_bytes()
    original = annotations_of(data)
    rng, harmless = random.Random(0), 0
    for i in range(len(data)):
        bad = bytearray(data)
        bad[i] ^= 1 << rng.randrange(8)
        try: got = annotations_of(bytes(bad))
        except DocBinError: continue
        assert got == original, f"byte {i}: a flipped bit changed the content without an error"
        harmless += 1
    assert harmless < len(data) // 100


def annotations_of(data):
    return [annotations(d) for d in DocBin().from_bytes(data).get_docs(Vocab())]


def test_random_garbage_is_reported():
    rng = random.Random(1)
    for n in [1, 2, 10, 100, 1000]:
        with pytest.raises(DocBinError):
            DocBin().from_bytes(bytes(rng.randrange(256) for _ in range(n)))


def test_bad_paths_and_types(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.nlpnb"):
        DocBin().from_disk(tmp_path / "missing.nlpnb")
    with pytest.raises(IsADirectoryError):
        DocBin().from_disk(tmp_path)
    with pytest.raises(TypeError, match="must be bytes"):
        DocBin().from_bytes("a string")


# -- a real corpus --------------------------------------------------------------------------------------

def read_conllu(path):
    "A minimal CoNLL-U reader: one Doc per sentence (multi-word token lines and empty nodes skipped)."
    vocab, docs, sent = Vocab(), [], []

    def flush():
        if not sent: return
        words, spaces, lemmas, pos, tags, morphs, heads, deps = zip(*sent)
        docs.append(Doc(vocab, words=list(words), spaces=list(spaces), lemmas=list(lemmas), pos=list(pos),
                        tags=list(tags), morphs=list(morphs), heads=list(heads), deps=list(deps)))
        sent.clear()
    for line in path.read_text(encoding="utf8").splitlines():
        if not line: flush(); continue
        if line.startswith("#"): continue
        cols = line.split("\t")
        if "-" in cols[0] or "." in cols[0]: continue
        i, head = int(cols[0]) - 1, int(cols[6]) - 1
        sent.append((cols[1], "SpaceAfter=No" not in cols[9], cols[2], cols[3], cols[4],
                     "" if cols[5] == "_" else cols[5], i if head < 0 else head, cols[7]))
    flush()
    return docs


@pytest.mark.skipif(not (DATA / "ud_en_ewt" / "en_ewt-ud-dev.conllu").exists(), reason="needs ../shared/data")
def test_ud_ewt_dev_round_trips(tmp_path):
    docs = read_conllu(DATA / "ud_en_ewt" / "en_ewt-ud-dev.conllu")
    assert len(docs) == 2001
    start = time.perf_counter()
    DocBin(docs=docs).to_disk(tmp_path / "dev.nlpnb")
    back = list(DocBin().from_disk(tmp_path / "dev.nlpnb").get_docs(Vocab()))
    seconds = time.perf_counter() - start
    n_tokens = sum(len(d) for d in docs)
    assert n_tokens == 25147
    for a, b in zip(docs, back):
        assert annotations(a) == annotations(b)
    size = (tmp_path / "dev.nlpnb").stat().st_size
    assert size < 20 * n_tokens  # compact: ~30 bytes of raw columns per token compress well
    print(f"UD EWT dev: {n_tokens} tokens, {size} bytes, write+read {seconds:.2f}s")
