"""`nlpnb apply` on each input kind, on bad input, and `nlp.pipe(n_process=2)` against one process, with a tagger on EWT."""
import json, os, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "ud_en_ewt"
FIXTURES = Path(__file__).parent / "fixtures"
pytestmark = pytest.mark.skipif(not DATA.exists(), reason="../shared/data is missing")

def nlpnb(*args):
    return subprocess.run([sys.executable, "-m", "nlpnb", *map(str, args)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "NO_COLOR": "1"})

def ewt_texts(n: int, split: str = "dev"):
    return [l[len("# text = "):] for l in (DATA / f"en_ewt-ud-{split}.conllu").read_text(encoding="utf8").splitlines()
            if l.startswith("# text = ")][:n]

@pytest.fixture(scope="module")
def tagger(tmp_path_factory):
    "A small tagger, initialized and updated a few times on 100 EWT sentences, saved."
    from nlpnb.init_config import init_config
    from nlpnb.language import Language
    from nlpnb.training.converters import read_conllu
    from nlpnb.training.example import Example
    tmp = tmp_path_factory.mktemp("tagger")
    blocks = (DATA / "en_ewt-ud-train.conllu").read_text(encoding="utf8").split("\n\n")[:100]
    (tmp / "train.conllu").write_text("\n\n".join(blocks) + "\n\n", encoding="utf8")
    cfg = init_config("en", ["tagger"])
    cfg["components"]["tok2vec"]["model"]["encode"]["width"] = 32
    cfg["components"]["tok2vec"]["model"]["embed"]["width"] = 32
    nlp = Language.from_config(cfg)
    examples = [Example(nlp.make_doc(d.text), d) for d in read_conllu(tmp / "train.conllu", n_sents=1)]
    nlp.initialize(lambda: examples)
    for _ in range(3): nlp.update(examples)
    nlp.to_disk(tmp / "model")
    return tmp / "model"

def test_apply_reads_each_input_kind_and_a_folder(tagger, tmp_path):
    from nlpnb.language import load
    from nlpnb.tokens import DocBin
    texts = ewt_texts(12)
    inp = tmp_path / "in"; (inp / "sub").mkdir(parents=True)
    (inp / "a.jsonl").write_text("".join(json.dumps({"id": i, "body": t}) + "\n" for i, t in enumerate(texts[:4])), encoding="utf8")
    (inp / "b.txt").write_text("\n".join(texts[4:8]) + "\n", encoding="utf8")
    nlp = load(tagger)
    DocBin(docs=[nlp.make_doc(t) for t in texts[8:12]]).to_disk(inp / "sub" / "c.nlpnb")
    (inp / "notes.md").write_text("not an input")
    res = nlpnb("apply", tagger, inp, tmp_path / "out.nlpnb", "--text-key", "body", "--batch-size", "3")
    assert res.returncode == 0 and "Saved 12 annotated Docs" in res.stderr, res.stderr
    docs = list(DocBin().from_disk(tmp_path / "out.nlpnb").get_docs(nlp.vocab))
    assert [d.text for d in docs] == texts           # the sorted files: a.jsonl, b.txt, sub/c.nlpnb
    assert [[t.tag_ for t in d] for d in docs] == [[t.tag_ for t in nlp(t)] for t in texts]
    # one .txt file as one document; a spaCy .spacy file (its annotation kept, tags added)
    from nlpnb.cli import run_cli   # in this process from here on: the process boundary was tested above
    code, _, err = run_cli(["apply", str(tagger), str(inp / "b.txt"), str(tmp_path / "one.nlpnb"), "--per-file"])
    assert code == 0 and "Saved 1 annotated Docs" in err, err
    assert [d.text for d in DocBin().from_disk(tmp_path / "one.nlpnb").get_docs(nlp.vocab)] == ["\n".join(texts[4:8]) + "\n"]
    spacy_docs = list(DocBin().from_disk(FIXTURES / "annotated.spacy").get_docs(nlp.vocab))
    code, _, err = run_cli(["apply", str(tagger), str(FIXTURES / "annotated.spacy"), str(tmp_path / "spacy.nlpnb")])
    assert code == 0, err
    out = list(DocBin().from_disk(tmp_path / "spacy.nlpnb").get_docs(nlp.vocab))
    assert [d.text for d in out] == [d.text for d in spacy_docs] and all(t.tag_ for d in out for t in d)
    assert [[e.text for e in d.ents] for d in out] == [[e.text for e in d.ents] for d in spacy_docs]

BAD_JSONL = [('{"text": "fine"}\n{"body": "no text"}\n', ":2: no 'text' key (keys: body)"),
             ('{"text": "fine"}\n\n{"text": "broken\n', ":3: not valid JSON"),
             ('{"text": "fine"}\n["a list"]\n', ":2: expected a JSON object, got list"),
             ('{"text": 42}\n', ":1: 'text' holds int, not a string")]

def test_bad_jsonl_names_the_file_and_line(tagger, tmp_path):
    from nlpnb.apply import ApplyInputError, read_jsonl_texts
    for content, problem in BAD_JSONL:
        (tmp_path / "bad.jsonl").write_text(content)
        with pytest.raises(ApplyInputError) as e: list(read_jsonl_texts(tmp_path / "bad.jsonl"))
        assert str(e.value).startswith(f"{tmp_path / 'bad.jsonl'}{problem}"), str(e.value)
    (tmp_path / "bad.jsonl").write_text(BAD_JSONL[0][0])   # the command: one line, nothing written
    res = nlpnb("apply", tagger, tmp_path / "bad.jsonl", tmp_path / "out.nlpnb")
    assert res.returncode == 1 and res.stderr.startswith(f"error: {tmp_path / 'bad.jsonl'}{BAD_JSONL[0][1]}"), res.stderr
    assert res.stderr.count("\n") == 1 and not (tmp_path / "out.nlpnb").exists()

def test_pipe_with_two_processes_equals_one(tagger):
    from nlpnb.language import load
    nlp = load(tagger)
    texts = ewt_texts(300)
    one = [[(t.text, t.tag_) for t in d] for d in nlp.pipe(texts, batch_size=16)]
    two = [[(t.text, t.tag_) for t in d] for d in nlp.pipe(texts, batch_size=16, n_process=2)]
    assert two == one and [d[0][0] for d in two][:3] == [nlp.make_doc(t)[0].text for t in texts[:3]]
    with pytest.raises(ValueError, match=r"Text 37 of the stream \(in a worker process\)"):
        list(nlp.pipe(texts[:37] + ["x" * (nlp.max_length + 1)] + texts[:5], batch_size=8, n_process=2))
