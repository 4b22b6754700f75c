"""`nlpnb.render` on real data: gold parses of UD English EWT and gold entities of WikiANN draw every arc and entity;
`nlpnb render MODEL TEXT` writes a page from a trained pipeline; `nlpnb.serve` answers on localhost."""
import itertools, os, random, socket, subprocess, sys, textwrap, time, urllib.request
from pathlib import Path

import pytest
from thinc.api import fix_random_seed

import nlpnb
from nlpnb.training.converters import read_conllu, read_iob
from nlpnb.training.example import Example
from nlpnb.viz import parse_arcs, render

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
pytestmark = pytest.mark.skipif(not DATA.exists(), reason="../shared/data is missing")


def nested_levels_ok(arcs) -> bool:
    "An arc is drawn above every arc it contains."
    return all(a["level"] > b["level"] for a in arcs for b in arcs
               if a is not b and a["start"] <= b["start"] and b["end"] <= a["end"] and (b["end"] - b["start"]) < (a["end"] - a["start"]))


def test_every_gold_arc_of_ewt_is_drawn_and_nested_arcs_stack():
    docs = list(itertools.islice(read_conllu(DATA / "ud_en_ewt" / "en_ewt-ud-dev.conllu", n_sents=5), 40))
    for doc in docs:
        svg = render(doc, "dep", jupyter=False)
        sents = list(doc.sents)
        assert svg.count("<svg") == len(sents)
        n_arcs = sum(1 for t in doc if t.head.i != t.i)
        assert svg.count('class="nlpnb-arc"') == n_arcs
        for sent in sents: assert nested_levels_ok(parse_arcs(sent))
        assert all(f">{t.dep_}</text>" in svg for t in doc if t.head.i != t.i)


def test_every_wikiann_entity_is_marked():
    docs = list(itertools.islice(read_iob(DATA / "wikiann_en" / "dev.iob"), 200))
    out = render(docs, "ent", page=True, jupyter=False)
    assert out.startswith("<!DOCTYPE html>") and out.count('class="nlpnb-ent"') == sum(len(d.ents) for d in docs)
    only_per = render(docs, "ent", options={"ents": ["PER"]}, jupyter=False)
    assert only_per.count('class="nlpnb-ent"') == sum(e.label_ == "PER" for d in docs for e in d.ents)


@pytest.fixture(scope="module")
def pipeline_dir(tmp_path_factory):
    "A tagger + parser + ner trained for a few steps on EWT and WikiANN slices, saved."
    fix_random_seed(0); random.seed(0)
    nlp = nlpnb.blank("en")
    for name in ("tagger", "parser", "ner"): nlp.add_pipe(name, config={"model": {"tok2vec": {"width": 32, "depth": 1}}})
    mk = lambda docs: [Example(nlp.make_doc(d.text), d) for d in docs]
    examples = (mk(itertools.islice(read_conllu(DATA / "ud_en_ewt" / "en_ewt-ud-train.conllu", nlp.vocab), 100))
                + mk(itertools.islice(read_iob(DATA / "wikiann_en" / "train.iob", nlp.vocab), 100)))
    optimizer = nlp.initialize(lambda: examples)
    for _ in range(3):
        for i in range(0, len(examples), 20): nlp.update(examples[i:i + 20], sgd=optimizer)
    path = tmp_path_factory.mktemp("viz") / "model"
    nlp.to_disk(path)
    return path


def run(*args):
    return subprocess.run([sys.executable, "-m", "nlpnb", *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, "NO_COLOR": "1"}, timeout=300)


def test_render_cli_writes_a_page_from_a_trained_pipeline(pipeline_dir, tmp_path):
    res = run("render", pipeline_dir, "The cat sat on the mat.", "Alice flew to Paris.", "--output", tmp_path / "dep.html")
    assert res.returncode == 0, res.stderr
    page = (tmp_path / "dep.html").read_text()
    assert page.count("<svg") >= 2 and ">cat</tspan>" in page and ">Paris</tspan>" in page
    res = run("render", pipeline_dir, "Alice flew to Paris.", "--style", "ent")
    assert res.returncode == 0 and res.stdout.startswith("<!DOCTYPE html>"), res.stderr
    res = run("render", tmp_path / "nothing", "text")
    assert res.returncode != 0 and "no saved pipeline there" in res.stderr and "Traceback" not in res.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_answers_on_localhost():
    port = free_port()
    code = textwrap.dedent(f"""
        import nlpnb
        from nlpnb.tokens.doc import Doc
        from nlpnb.vocab import Vocab
        doc = Doc(Vocab(), ["She", "ate"], heads=[1, 1], deps=["nsubj", "ROOT"])
        nlpnb.serve(doc, "dep", port={port})
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(100):
            try: body = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2).read().decode("utf8"); break
            except OSError: time.sleep(0.2)
        else: pytest.fail("the server never answered: " + proc.stderr.read() if proc.poll() is not None else "timeout")
        assert "<svg" in body and ">nsubj</text>" in body
    finally:
        proc.terminate(); proc.wait(timeout=10)


def test_render_in_a_notebook_displays_and_returns_nothing():
    "Like displaCy: a cell ending in `render(doc)` shows the drawing once, without echoing the markup."
    from unittest import mock
    import nlpnb, nlpnb.viz
    doc = nlpnb.blank("en")("Hi there")
    with mock.patch.object(nlpnb.viz, "in_notebook", return_value=True), mock.patch("IPython.display.display") as shown:
        assert nlpnb.render(doc, "ent") is None and shown.call_count == 1
        assert "Hi there" in nlpnb.render(doc, "ent", jupyter=False) and shown.call_count == 1
