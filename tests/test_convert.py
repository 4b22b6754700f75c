"""`nlpnb convert` and the converters: the EWT treebank round-trips losslessly, WikiANN entities are all kept,
bad input is reported as `file:line: what`, and the CLI behaves (exit codes, one-line errors, outputs)."""
import os, subprocess, sys, time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from nlpnb.cli import main
from nlpnb.tokens import DocBin
from nlpnb.training.converters import ConversionError, convert, docs_to_conllu, read_conllu, read_iob, write_docs
from nlpnb.vocab import Vocab

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
EWT_TRAIN = DATA / "ud_en_ewt" / "en_ewt-ud-train.conllu"
EWT_DEV = DATA / "ud_en_ewt" / "en_ewt-ud-dev.conllu"
WIKIANN = DATA / "wikiann_en"
needs_data = pytest.mark.skipif(not EWT_TRAIN.exists(), reason="../shared/data is missing")
ANNOTATIONS = ["ORTH", "SPACY", "LEMMA", "POS", "TAG", "MORPH", "HEAD", "DEP", "SENT_START", "ENT_IOB", "ENT_TYPE"]

ROW = "1\tHi\thi\tINTJ\tUH\t_\t0\troot\t0:root\t_\n"


def cli(*args, cwd=None):
    "Run `python -m nlpnb ARGS` in a subprocess: (exit status, stdout, stderr)."
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    env.pop("NLPNB_TRACEBACK", None)
    res = subprocess.run([sys.executable, "-m", "nlpnb", *map(str, args)], capture_output=True, text=True, env=env, cwd=cwd)
    return res.returncode, res.stdout, res.stderr


def plain(x):
    "user_data as plain lists (a DocBin gives tuples back)."
    if isinstance(x, dict): return {k: plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)): return [plain(v) for v in x]
    return x


def assert_docs_equal(a, b):
    "Every annotation, the text and the user data of Docs `a` and `b` are equal."
    assert len(a) == len(b)
    for i, (x, y) in enumerate(zip(a, b)):
        assert x.text == y.text, i
        assert np.array_equal(x.to_array(ANNOTATIONS), y.to_array(ANNOTATIONS)), i
        assert [str(t.morph) for t in x] == [str(t.morph) for t in y], i
        assert plain(x.user_data) == plain(y.user_data), i


# ---------------------------------------------------------------------------------------------------
# The done criterion: EWT train converts, round-trips to identical CoNLL-U, and reloads equal.

@pytest.fixture(scope="module")
def ewt_train():
    "The EWT train Docs (one sentence each) and the seconds it took to read them."
    t0 = time.perf_counter()
    docs = list(read_conllu(EWT_TRAIN))
    return docs, time.perf_counter() - t0


@needs_data
def test_ewt_train_converts_round_trips_and_reloads_equal(tmp_path, ewt_train):
    docs, t_read = ewt_train
    assert len(docs) == 12544 and sum(len(d) for d in docs) == 204577
    t0 = time.perf_counter()
    assert write_docs(docs, tmp_path / "train.nlpnb") == (12544, 12544)  # what `convert` does after reading
    t_write = time.perf_counter() - t0
    t1 = time.perf_counter()
    reloaded = list(DocBin().from_disk(tmp_path / "train.nlpnb").get_docs(Vocab()))
    t_reload = time.perf_counter() - t1
    t2 = time.perf_counter()
    written = docs_to_conllu(reloaded)
    t_conllu = time.perf_counter() - t2
    # every column, comment, range and empty-node line, byte for byte
    assert written == EWT_TRAIN.read_text(encoding="utf8")
    assert_docs_equal(docs, reloaded)
    total = t_read + t_write + t_reload + t_conllu
    print(f"\nEWT train round trip: read CoNLL-U {t_read:.1f}s, write .nlpnb {t_write:.1f}s, "
          f"reload {t_reload:.1f}s, write CoNLL-U {t_conllu:.1f}s; total {total:.1f}s")
    assert total < 60


@needs_data
def test_ewt_dev_round_trips_with_many_sentences_per_doc(tmp_path):
    [result] = convert(EWT_DEV, tmp_path, n_sents=10, file_type="conllu")
    assert (result.n_docs, result.n_sents) == (201, 2001)
    assert result.output.read_text(encoding="utf8") == EWT_DEV.read_text(encoding="utf8")


@needs_data
def test_ewt_annotations_match_the_columns(ewt_train):
    "Spot checks against the file: a multi-word token, spacing, the root, heads, morphology."
    docs = ewt_train[0]
    doc = docs[0]  # "Al-Zaman : American forces killed Shaikh Abdullah al-Ani, ..."
    assert doc.text.startswith("Al-Zaman : American forces killed")
    assert [t.text for t in doc[:4]] == ["Al", "-", "Zaman", ":"]
    assert doc[0].dep_ == "ROOT" and doc[0].head.i == 0
    assert doc[6].dep_ == "parataxis" and doc[6].head.i == 0
    assert str(doc[6].morph) == "Mood=Ind|Number=Plur|Person=3|Tense=Past|VerbForm=Fin"
    assert (doc[5].lemma_, doc[5].pos_, doc[5].tag_) == ("force", "NOUN", "NNS")
    # every sentence's text is its "# text" comment: multi-word tokens and SpaceAfter=No read right
    texts = [line[9:] for line in EWT_TRAIN.read_text(encoding="utf8").splitlines() if line.startswith("# text = ")]
    assert [d.text.rstrip() for d in docs] == texts
    dont = next(d for d in docs if "don't" in d.text)
    i = next(t.i for t in dont if t.text == "do" and dont[t.i + 1].text == "n't")
    assert dont[i].whitespace_ == "" and dont[i + 1].lemma_ == "not"


# ---------------------------------------------------------------------------------------------------
# WikiANN: entity counts against a count made straight from the raw file.

def count_entities(path):
    "Entities in an IOB file, counted from the raw lines: a B- tag, or an I- tag not continuing its label."
    counts, prev, n_sents, n_tokens = Counter(), "O", 0, 0
    for line in path.read_text(encoding="utf8").split("\n"):
        if not line.strip():
            if prev != "": n_sents += 1
            prev = ""; continue
        tag = line.rsplit("\t", 1)[1]
        n_tokens += 1
        if tag.startswith("B-") or (tag.startswith("I-") and prev[2:] != tag[2:]): counts[tag[2:]] += 1
        prev = tag
    return counts, n_sents, n_tokens


@needs_data
@pytest.mark.parametrize("split", ["train", "dev"])
def test_wikiann_entities_all_kept(tmp_path, split):
    path = WIKIANN / f"{split}.iob"
    expected, n_sents, n_tokens = count_entities(path)
    assert sum(expected.values()) == path.read_text(encoding="utf8").count("\tB-")  # IOB2: each entity has one B-
    [result] = convert(path, tmp_path, n_sents=10, iob_scheme="iob2")  # the file is valid IOB2
    assert result.n_sents == n_sents
    docs = list(DocBin().from_disk(result.output).get_docs(Vocab()))
    assert sum(len(d) for d in docs) == n_tokens
    assert Counter(e.label_ for d in docs for e in d.ents) == expected
    assert not any(t.text.startswith("en:") for d in docs[:50] for t in d)
    assert all(sum(1 for _ in d.sents) <= 10 for d in docs)


def test_iob1_and_iob2_give_the_same_entities(tmp_path):
    iob1 = tmp_path / "a.iob"; iob1.write_text("Paris I-LOC\nand O\nBerlin I-LOC\nNew B-LOC\nYork I-LOC\n\n")
    iob2 = tmp_path / "b.iob"; iob2.write_text("Paris B-LOC\nand O\nBerlin B-LOC\nNew B-LOC\nYork I-LOC\n\n")
    ents = lambda p: [(e.start, e.end, e.label_) for d in read_iob(p) for e in d.ents]
    assert ents(iob1) == ents(iob2) == [(0, 1, "LOC"), (2, 3, "LOC"), (3, 5, "LOC")]
    with pytest.raises(ConversionError, match=r"a\.iob:1: I-LOC after the sentence start does not continue an entity"):
        list(read_iob(iob1, scheme="iob2"))


def test_docstart_splits_docs(tmp_path):
    p = tmp_path / "conll.iob"
    p.write_text("-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\nIt PRP B-NP O\n\n"
                 "-DOCSTART- -X- -X- O\n\nPeter NNP B-NP B-PER\nBlackburn NNP I-NP I-PER\n\n")
    docs = list(read_iob(p, n_sents=100))
    assert [d.text for d in docs] == ["EU rejects It ", "Peter Blackburn "]
    assert [[(e.text, e.label_) for e in d.ents] for d in docs] == [[("EU", "ORG")], [("Peter Blackburn", "PER")]]


# ---------------------------------------------------------------------------------------------------
# Bad input: one line on stderr naming file, line and problem; exit status 1; no traceback.

BAD_INPUTS = [
    ("cols.conllu", ROW + ROW.replace("\t_\n", "\n").replace("1\t", "2\t", 1), 2, "9 tab-separated columns (expected 10"),
    ("id.conllu", "# text = Hi Hi\n" + ROW + ROW, 3, "word ID 1 (expected 2)"),
    ("head.conllu", ROW.replace("\t0\troot", "\t5\troot"), 1, "HEAD '5' of word 1"),
    ("feats.conllu", ROW.replace("UH\t_", "UH\tNumber"), 1, "FEATS 'Number' (expected Feature=Value pairs"),
    ("upos.conllu", ROW.replace("INTJ", "intj"), 1, "UPOS 'intj'"),
    ("range.conllu", ROW + "3-4\tdon't" + "\t_" * 8 + "\n", 2, "multi-word token 3-4 does not start at the next word"),
    ("tag.iob", "Paris\tB-LOC\nis\tVERB\n", 2, "tag 'VERB' (expected O, B-LABEL or I-LABEL)"),
    ("onecol.iob", "Paris B-LOC\n\nalone\n", 3, "one column 'alone'"),
    ("prefix.iob", "".join(f"en:w{i}\tO\n" for i in range(60)) + "w60\tO\n", 61, "token 'w60' without the 'en:' prefix"),
]


@pytest.mark.parametrize("name,text,line,message", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_names_file_and_line(tmp_path, name, text, line, message):
    path = tmp_path / name
    path.write_text(text, encoding="utf8")
    code, out, err = cli("convert", path, tmp_path / "out")
    assert code == 1 and out == ""
    assert err.startswith(f"error: {path}:{line}: ") and message in err, err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "out" / f"{path.stem}.nlpnb").exists()


def test_iob2_scheme_error_through_main(tmp_path, capsys):
    path = tmp_path / "x.iob"
    path.write_text("Paris\tB-LOC\nHilton\tI-PER\n")
    assert main(["convert", str(path), str(tmp_path), "--iob-scheme", "iob2"]) == 1
    err = capsys.readouterr().err
    assert err == f"error: {path}:2: I-PER after B-LOC does not continue an entity (expected B-PER to start one in IOB2)\n"
    assert main(["convert", str(path), str(tmp_path)]) == 0  # lenient by default, like spaCy


def test_not_utf8(tmp_path, capsys):
    path = tmp_path / "latin1.conllu"
    path.write_bytes(ROW.encode() + b"\n" + ROW.replace("Hi", "H\xe9").encode("latin-1"))
    assert main(["convert", str(path), str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err == f"error: {path}:3: bytes that are not UTF-8 (expected a UTF-8 text file)\n"


def test_usage_errors_are_one_line(tmp_path):
    for args, message in [(["convert", "in.conllu"], "the following arguments are required: OUTPUT_DIR"),
                          (["convert", "a", "b", "-t", "xml"], "argument -t/--file-type: invalid choice: 'xml'"),
                          (["convert", "a", "b", "-n", "x"], "expected a positive integer, got 'x'"),
                          (["nonsense"], "invalid choice: 'nonsense'"),
                          (["convert", tmp_path / "nope.conllu", tmp_path], "Input not found")]:
        code, out, err = cli(*args)
        assert code == 1 and message in err and err.count("\n") == 1, (args, err)


def test_help_documents_every_option():
    code, out, _ = cli("convert", "--help")
    assert code == 0
    for option in ["INPUT", "OUTPUT_DIR", "--converter", "--n-sents", "--lang", "--file-type", "--iob-scheme", "default: nlpnb"]:
        assert option in out, option
    code, out, _ = cli("--help")
    assert code == 0 and "convert" in out


# ---------------------------------------------------------------------------------------------------
# The CLI's outputs.

@needs_data
def test_cli_converts_ewt_dev(tmp_path):
    code, out, err = cli("convert", EWT_DEV, tmp_path / "new" / "corpus")
    out_path = tmp_path / "new" / "corpus" / "en_ewt-ud-dev.nlpnb"
    assert (code, err) == (0, "")
    assert out == f"Wrote 2001 docs (2001 sentences) to {out_path}\n"
    docs = list(DocBin().from_disk(out_path).get_docs(Vocab()))
    assert docs_to_conllu(docs) == EWT_DEV.read_text(encoding="utf8")


def test_main_converts_a_folder(tmp_path, capsys):
    src = tmp_path / "src"; (src / "sub").mkdir(parents=True)
    (src / "a.conllu").write_text("# text = Hi\n" + ROW + "\n" + "# text = Hi\n" + ROW + "\n")
    (src / "sub" / "b.iob").write_text("en:Paris\tB-LOC\nen:!\tO\n\nen:Bo\tB-PER\n\n")
    (src / "notes.txt").write_text("not a corpus")
    (src / ".hidden.conllu").write_text("junk")
    assert main(["convert", str(src), str(tmp_path / "out"), "-n", "5"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [f"Wrote 1 doc (2 sentences) to {tmp_path / 'out' / 'a.nlpnb'}",
                   f"Wrote 1 doc (2 sentences) to {tmp_path / 'out' / 'sub' / 'b.nlpnb'}"]
    [doc] = DocBin().from_disk(tmp_path / "out" / "sub" / "b.nlpnb").get_docs(Vocab())
    assert [(e.text, e.label_) for e in doc.ents] == [("Paris", "LOC"), ("Bo", "PER")]


def test_file_types(tmp_path, capsys):
    src = tmp_path / "hi.conllu"
    src.write_text("# sent_id = 1\n# text = Hi\n" + ROW + "\n")
    assert main(["convert", str(src), str(tmp_path / "o"), "-t", "conllu"]) == 0
    assert (tmp_path / "o" / "hi.conllu").read_text() == src.read_text()
    assert main(["convert", str(src), str(tmp_path / "o"), "-t", "json"]) == 0
    import json
    [doc] = json.loads((tmp_path / "o" / "hi.json").read_text())
    assert doc["text"] == "Hi " and doc["tokens"][0]["pos"] == "INTJ"
    assert main(["convert", str(src), str(tmp_path), "-t", "conllu"]) == 1  # would overwrite its input
    assert "would overwrite it" in capsys.readouterr().err


def test_jsonl(tmp_path, capsys):
    pytest.importorskip("nlpnb.language")
    src = tmp_path / "texts.jsonl"
    src.write_text('{"text": "Hello world."}\n{"text": "It\'s fine.", "cats": {"POS": 1.0}}\n')
    assert main(["convert", str(src), str(tmp_path / "o")]) == 0
    docs = list(DocBin().from_disk(tmp_path / "o" / "texts.nlpnb").get_docs(Vocab()))
    assert [d.text for d in docs] == ["Hello world.", "It's fine."]
    assert [t.text for t in docs[0]] == ["Hello", "world", "."]
    assert docs[1].cats == {"POS": 1.0}
    src.write_text('{"text": "ok"}\n["text"]\n')
    assert main(["convert", str(src), str(tmp_path / "o")]) == 1
    assert capsys.readouterr().err.startswith(f"error: {src}:2: a JSON list without a \"text\" string")
