"""The config commands as a user runs them: real processes, pipes, environment overrides."""
import os, subprocess, sys
from pathlib import Path
import pytest

BASE = '[nlp]\nlang = "en"\npipeline = []\n\n[components]\n'

def nlpnb(*args, input=None, env=None):
    "Run `python -m nlpnb ARGS` and return the completed process."
    return subprocess.run([sys.executable, "-m", "nlpnb", *args], input=input, capture_output=True, text=True,
                          env={**os.environ, "NO_COLOR": "1", **(env or {})}, timeout=300)

# what `nlpnb --help` listed before the commands moved into the nlpnb/cli/ package (issue 13)
EVERY_COMMAND = ["apply", "assemble", "benchmark accuracy", "benchmark speed", "convert", "debug config",
                 "debug data", "debug diff-config", "debug model", "debug profile", "evaluate", "find-threshold",
                 "info", "init config", "init fill-config", "init labels", "init vectors", "init warmup", "package",
                 "pretrain", "ray train", "render", "report", "train"]

# `python -m nlpnb ARGS --help` for each ARGS, all in one process: one import of nlpnb (and of torch, which thinc
# imports where the dev extra installed it) instead of one per command; prints {ARGS: [exit status, stdout]}
HELP_ALL = """import contextlib, io, json, runpy, sys
out = {}
for name in json.loads(sys.argv[1]):
    sys.argv, buf, code = ["nlpnb", *name.split(), "--help"], io.StringIO(), None
    try:
        with contextlib.redirect_stdout(buf): runpy.run_module("nlpnb", run_name="__main__", alter_sys=True)
    except SystemExit as e: code = e.code
    out[name] = [code, buf.getvalue()]
print(json.dumps(out))"""

@pytest.fixture(scope="module")
def helps() -> dict:
    "`nlpnb --help` (key '') and `nlpnb COMMAND --help` for every command: {ARGS: [exit status, stdout]}."
    import json
    res = subprocess.run([sys.executable, "-c", HELP_ALL, json.dumps(["", *EVERY_COMMAND])], capture_output=True,
                         text=True, env={**os.environ, "NO_COLOR": "1"}, timeout=300)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)

def test_every_command_is_still_registered(helps):
    from nlpnb.cli import COMMANDS, main
    assert main(["--version"]) == 0          # imports COMMAND_MODULES
    assert sorted(COMMANDS) == EVERY_COMMAND
    assert helps[""][0] == 0
    for group in {c.split()[0] for c in EVERY_COMMAND}: assert f"    {group}" in helps[""][1], group
    for name in EVERY_COMMAND:
        code, out = helps[name]
        assert code == 0 and out.startswith(f"usage: nlpnb {name}"), (name, code, out[:80])

def test_a_missing_code_file_is_one_line():
    res = nlpnb("init", "config", "-", "--pipeline", "tagger", "--code", "/nonexistent/functions.py")
    assert (res.returncode, res.stdout, res.stderr) == (1, "", "error: --code file not found: /nonexistent/functions.py\n")

def test_fill_config_to_stdout_pipes_into_debug_config(tmp_path):
    (tmp_path / "base.cfg").write_text(BASE)
    filled = nlpnb("init", "fill-config", str(tmp_path / "base.cfg"), "-")
    assert filled.returncode == 0, filled.stderr
    assert "[training.optimizer]" in filled.stdout
    checked = nlpnb("debug", "config", "-", "--training.max_steps", "7", input=filled.stdout)
    assert checked.returncode == 0, checked.stderr
    assert "max_steps = 7" in checked.stdout and "Config is valid" in checked.stderr

def test_environment_overrides_win_over_the_command_line(tmp_path):
    (tmp_path / "base.cfg").write_text(BASE)
    assert nlpnb("init", "fill-config", str(tmp_path / "base.cfg"), str(tmp_path / "config.cfg")).returncode == 0
    res = nlpnb("debug", "config", str(tmp_path / "config.cfg"), "--training.max_steps", "7", "--verbose",
                env={"NLPNB_CONFIG_OVERRIDES": "--training.max_steps 9 --training.dropout 0.3"})
    assert res.returncode == 0, res.stderr
    assert "max_steps = 9" in res.stdout and "dropout = 0.3" in res.stdout
    assert "override: training.max_steps = 9" in res.stderr

def test_bad_environment_override_names_the_variable(tmp_path):
    (tmp_path / "base.cfg").write_text(BASE)
    nlpnb("init", "fill-config", str(tmp_path / "base.cfg"), str(tmp_path / "config.cfg"))
    res = nlpnb("debug", "config", str(tmp_path / "config.cfg"), env={"NLPNB_CONFIG_OVERRIDES": "max_steps=3"})
    assert res.returncode == 1 and "$NLPNB_CONFIG_OVERRIDES" in res.stderr and "Traceback" not in res.stderr

def test_missing_config_and_empty_stdin_are_one_line_errors(tmp_path):
    res = nlpnb("debug", "config", str(tmp_path / "nope.cfg"))
    assert res.returncode == 1 and res.stderr.strip() == f"error: Config file not found: {tmp_path / 'nope.cfg'}"
    res = nlpnb("debug", "config", "-", input="")
    assert res.returncode == 1 and "Traceback" not in res.stderr

def test_help_documents_every_option(helps):
    code, out = helps["debug config"]
    assert code == 0
    for option in ("--code", "--verbose", "--show-functions", "--show-variables", "--section.key"):
        assert option in out, option
    for option in ("--code", "--diff", "OUTPUT"): assert option in helps["init fill-config"][1], option

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

@pytest.mark.skipif(not DATA.exists(), reason="../shared/data is missing")
def test_init_config_for_every_trainable_kind_pipes_into_train(tmp_path):
    "`init config - --pipeline tagger,parser,ner,textcat | train -` on one corpus of EWT, WikiANN and SST-2 slices."
    import itertools, csv
    import nlpnb as lib
    from nlpnb.tokens import DocBin
    from nlpnb.training.converters import read_conllu, read_iob
    nlp = lib.blank("en")
    with open(DATA / "sst2" / "train.tsv", encoding="utf8") as f:
        rows = list(itertools.islice(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE), 40))
    sst = [nlp.make_doc(r["sentence"]) for r in rows]
    for doc, r in zip(sst, rows): doc.cats = {"POSITIVE": float(r["label"] == "1"), "NEGATIVE": float(r["label"] == "0")}
    docs = (list(itertools.islice(read_conllu(DATA / "ud_en_ewt" / "en_ewt-ud-train.conllu", nlp.vocab), 40))
            + list(itertools.islice(read_iob(DATA / "wikiann_en" / "train.iob", nlp.vocab), 40)) + sst)
    bin_ = DocBin()
    for doc in docs: bin_.add(doc)
    bin_.to_disk(tmp_path / "mixed.nlpnb")
    # optimized for accuracy, so that every component (the textcat too) reads the shared tok2vec through a listener;
    # the tok2vec is then shrunk back to the efficiency size by overrides, to keep the test fast
    config = nlpnb("init", "config", "-", "--lang", "en", "--pipeline", "tagger,parser,ner,textcat", "--optimize", "accuracy",
                   "--no-transformer")  # the CNN even where the transformers extra is installed
    assert config.returncode == 0, config.stderr
    for name in ("tok2vec", "tagger", "parser", "ner", "textcat"): assert f"[components.{name}]" in config.stdout
    assert "[components.textcat.model.tok2vec]" in config.stdout
    corpus = str(tmp_path / "mixed.nlpnb")
    small = ["--components.tok2vec.model.embed.width", "96", "--components.tok2vec.model.encode.width", "96",
             "--components.tok2vec.model.encode.depth", "4"]
    train = nlpnb("train", "-", "--output", str(tmp_path / "out"), "--paths.train", corpus, "--paths.dev", corpus,
                  "--training.max_steps", "6", "--training.eval_frequency", "3", *small, input=config.stdout)
    assert train.returncode == 0, train.stderr[-3000:]
    for column in ("TAG_ACC", "DEP_UAS", "ENTS_F", "CATS_SCORE"): assert column in train.stdout, train.stdout
    text = "Apple opened a store in Paris , and people loved it ."
    loaded = lib.load(tmp_path / "out" / "model-last")
    doc = loaded(text)
    assert loaded.pipe_names == ["tok2vec", "tagger", "parser", "ner", "textcat"]
    assert all(t.tag_ for t in doc) and doc.has_annotation("DEP") and set(doc.cats) == {"POSITIVE", "NEGATIVE"}
    again = lib.load(tmp_path / "out" / "model-last")(text)
    assert [(t.tag_, t.head.i, t.dep_, t.ent_iob_) for t in again] == [(t.tag_, t.head.i, t.dep_, t.ent_iob_) for t in doc]
    assert again.cats == doc.cats
