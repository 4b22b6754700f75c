"""The whole workflow as a user runs it, in processes: convert, init config, debug config, train, evaluate."""
import json, os, subprocess, sys
from pathlib import Path
import pytest

DATA = Path(__file__).parents[1].parent / "shared" / "data" / "ud_en_ewt"
pytestmark = pytest.mark.skipif(not DATA.exists(), reason="../shared/data is missing")

def nlpnb(*args, **kw):
    res = subprocess.run([sys.executable, "-m", "nlpnb", *map(str, args)], capture_output=True, text=True,
                         env={**os.environ, "NO_COLOR": "1"}, timeout=900, **kw)
    assert res.returncode == 0, f"nlpnb {' '.join(map(str, args))} failed:\n{res.stderr[-3000:]}"
    return res

def conllu_slice(src: Path, dst: Path, n_sents: int) -> None:
    "The first `n_sents` sentences of a CoNLL-U file."
    blocks = src.read_text(encoding="utf8").split("\n\n")[:n_sents]
    dst.write_text("\n\n".join(blocks) + "\n\n", encoding="utf8")

def test_convert_init_train_evaluate_a_tagger_and_morphologizer(tmp_path):
    conllu_slice(DATA / "en_ewt-ud-train.conllu", tmp_path / "train.conllu", 1500)
    conllu_slice(DATA / "en_ewt-ud-dev.conllu", tmp_path / "dev.conllu", 300)
    nlpnb("convert", tmp_path / "train.conllu", tmp_path / "corpus", "-n", "10")
    nlpnb("convert", tmp_path / "dev.conllu", tmp_path / "corpus", "-n", "10")
    nlpnb("init", "config", tmp_path / "config.cfg", "--lang", "en", "--pipeline", "tagger,morphologizer")
    overrides = ["--paths.train", tmp_path / "corpus" / "train.nlpnb", "--paths.dev", tmp_path / "corpus" / "dev.nlpnb",
                 "--training.max_steps", "120", "--training.eval_frequency", "40",
                 "--components.tok2vec.model.encode.width", "64", "--components.tok2vec.model.embed.width", "64"]
    assert "Config is valid" in nlpnb("debug", "config", tmp_path / "config.cfg", *overrides).stderr
    train = nlpnb("train", tmp_path / "config.cfg", "--output", tmp_path / "out", *overrides)
    header, *rows = [l.split() for l in train.stdout.splitlines() if l.strip() and not l.startswith("-")]
    assert header[:2] == ["E", "#"] and "TAG_ACC" in header and "POS_ACC" in header, train.stdout
    scores = [float(r[-1]) for r in rows]
    assert scores[-1] > scores[0] + 30, train.stdout  # learned: the weighted score rose by over 30 points
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [".nlpnb-train.lock", "model-best", "model-last", "report.html"]
    report = (tmp_path / "out" / "report.html").read_text()  # the evaluations drawn: one row and chart point each
    assert report.count('class="nlpnb-eval"') == len(rows) and "morph_per_feat" in report and "<script" not in report
    nlpnb("evaluate", tmp_path / "out" / "model-best", tmp_path / "corpus" / "dev.nlpnb", "--output", tmp_path / "scores.json")
    scores = json.loads((tmp_path / "scores.json").read_text())
    assert scores["tag_acc"] > 0.6 and scores["pos_acc"] > 0.6, scores
    assert scores["speed"] > 0

def test_init_labels_then_initialize_from_them(tmp_path):
    conllu_slice(DATA / "en_ewt-ud-train.conllu", tmp_path / "train.conllu", 200)
    nlpnb("convert", tmp_path / "train.conllu", tmp_path / "corpus", "-n", "10")
    nlpnb("init", "config", tmp_path / "config.cfg", "--pipeline", "tagger")
    paths = ["--paths.train", tmp_path / "corpus" / "train.nlpnb", "--paths.dev", tmp_path / "corpus" / "train.nlpnb"]
    nlpnb("init", "labels", tmp_path / "config.cfg", tmp_path / "labels", *paths)
    tags = {line.split("\t")[4] for line in (tmp_path / "train.conllu").read_text().splitlines() if line and line[0].isdigit()
            and line.split("\t")[0].isdigit()}
    assert sorted(json.loads((tmp_path / "labels" / "tagger.json").read_text())) == sorted(tags)
    # a config that reads the labels back, with one label the corpus doesn't have: initialization takes the file's
    labels = sorted(tags) + ["NOT-IN-CORPUS"]
    (tmp_path / "labels" / "tagger.json").write_text(json.dumps(labels))
    text = (tmp_path / "config.cfg").read_text().replace("[initialize.components]", f'[initialize.components]\n\n'
        f'[initialize.components.tagger]\n\n[initialize.components.tagger.labels]\n@readers = "nlpnb.read_labels.v1"\n'
        f'path = "{tmp_path / "labels" / "tagger.json"}"\nrequire = true')
    (tmp_path / "with_labels.cfg").write_text(text)
    nlpnb("train", tmp_path / "with_labels.cfg", "--output", tmp_path / "out", *paths, "--training.max_steps", "2")
    assert "NOT-IN-CORPUS" in json.loads((tmp_path / "out" / "model-last" / "tagger" / "cfg").read_text())["labels"]
