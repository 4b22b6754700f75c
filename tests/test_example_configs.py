"""The config examples a user copies from the docs, run as a user runs them: a partial config, `init fill-config`,
`debug config`, `train --code functions.py`, then `nlpnb.load` of what training saved. Four examples (a shared
`tok2vec` feeding `tagger` and `textcat` through listeners; each component with its own embedding; a custom
`@schedules` function from `--code`; `@callbacks` that change the stop words before and after the `nlp` object is
created), each trained for a few steps on slices of ../shared/data, then checked: the saved config is the training config
(overrides included), the saved weights score what the training log reported, and `to_disk`/`load` changes neither
config nor predictions. Then one broken config of each kind (unknown function, wrong type, missing value, bad
interpolation, override of a key that doesn't exist) must fail on `debug config` and on `train` with a one-line-per-key
message that names the key. `init config --pretraining` and `init fill-config --pretraining` write the [pretraining]
block, or say why they can't (no tok2vec to pretrain). Config round trips without training are covered in nbs/07_language.ipynb; piping, environment overrides and
`--help` in tests/test_cli_config.py; training to a useful accuracy in tests/test_train_e2e.py."""
import json, os, re, subprocess, sys
from pathlib import Path
import pytest

import nlpnb
from nlpnb.cli import run_cli
from nlpnb.util import import_code
from nlpnb.config import load_config
from nlpnb.registry import registry
from nlpnb.tokens import DocBin
from nlpnb.training.corpus import Corpus

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
pytestmark = pytest.mark.skipif(not (DATA / "ud_en_ewt").exists() or not (DATA / "sst2").exists(),
                                reason="../shared/data is missing")

# The user's code, as the docs write it: a generator schedule, and callbacks that edit the language data.
FUNCTIONS = '''
from typing import List
from nlpnb.registry import registry

@registry.schedules("my_custom_schedule.v1")
def my_custom_schedule(start: int = 1, factor: float = 1.001):
    while True:
        yield start
        start = start * factor

@registry.callbacks("customize_language_data")
def create_callback(extra_stop_words: List[str] = [], debug: bool = False):
    def customize_language_data(lang_cls):
        # a subclass rather than lang_cls.Defaults.stop_words.update(...): other pipelines keep the usual stop words
        class Defaults(lang_cls.Defaults):
            stop_words = lang_cls.Defaults.stop_words | set(extra_stop_words)
        if debug: print("Updated stop words")
        return type(lang_cls.__name__, (lang_cls,), {"Defaults": Defaults})
    return customize_language_data

@registry.callbacks("remove_stop_words.v1")
def create_remover(words: List[str]):
    def remove_stop_words(nlp):
        nlp.vocab.stop_words.difference_update(words)
        return nlp
    return remove_stop_words
'''

TOK2VEC = '''
[components.tok2vec]
factory = "tok2vec"

[components.tok2vec.model]
@architectures = "nlpnb.Tok2Vec.v1"

[components.tok2vec.model.embed]
@architectures = "nlpnb.MultiHashEmbed.v1"
width = ${components.tok2vec.model.encode.width}
attrs = ["NORM", "PREFIX", "SUFFIX", "SHAPE"]
rows = [5000, 2500, 2500, 2500]
include_static_vectors = false

[components.tok2vec.model.encode]
@architectures = "nlpnb.MaxoutWindowEncoder.v1"
width = 64
depth = 2
window_size = 1
maxout_pieces = 3
'''

# One tok2vec component; the tagger and textcat models read its output through listeners.
SHARED = '''
[nlp]
lang = "en"
pipeline = ["tok2vec", "tagger", "textcat"]

[components]
''' + TOK2VEC + '''
[components.tagger]
factory = "tagger"

[components.tagger.model]
@architectures = "nlpnb.Tagger.v1"
nO = null

[components.tagger.model.tok2vec]
@architectures = "nlpnb.Tok2VecListener.v1"
width = ${components.tok2vec.model.encode.width}
upstream = "tok2vec"

[components.textcat]
factory = "textcat"

[components.textcat.model]
@architectures = "nlpnb.TextCatReduce.v1"
exclusive_classes = true
use_reduce_first = false
use_reduce_last = false
use_reduce_max = true
use_reduce_mean = true

[components.textcat.model.tok2vec]
@architectures = "nlpnb.Tok2VecListener.v1"
width = ${components.tok2vec.model.encode.width}
upstream = "*"
'''

# No tok2vec component: the tagger embeds the words itself, the textcat is a bag of words.
INDEPENDENT = '''
[nlp]
lang = "en"
pipeline = ["tagger", "textcat"]

[components]

[components.tagger]
factory = "tagger"

[components.tagger.model]
@architectures = "nlpnb.Tagger.v1"

[components.tagger.model.tok2vec]
@architectures = "nlpnb.Tok2Vec.v1"

[components.tagger.model.tok2vec.embed]
@architectures = "nlpnb.MultiHashEmbed.v1"
width = 64
attrs = ["NORM", "PREFIX", "SUFFIX", "SHAPE"]
rows = [5000, 2500, 2500, 2500]
include_static_vectors = false

[components.tagger.model.tok2vec.encode]
@architectures = "nlpnb.MaxoutWindowEncoder.v1"
width = 64
depth = 2
window_size = 1
maxout_pieces = 3

[components.textcat]
factory = "textcat"

[components.textcat.model]
@architectures = "nlpnb.TextCatBOW.v1"
exclusive_classes = true
ngram_size = 2
no_output_layer = false
'''

BOW_TEXTCAT = '''
[components]

[components.textcat]
factory = "textcat"

[components.textcat.model]
@architectures = "nlpnb.TextCatBOW.v1"
exclusive_classes = true
ngram_size = 1
no_output_layer = false
'''

# Batch sizes from the user's schedule: 2 documents, then growing by half each step.
SCHEDULE = '''
[nlp]
lang = "en"
pipeline = ["textcat"]
''' + BOW_TEXTCAT + '''
[training]

[training.batcher]
@batchers = "nlpnb.batch_by_sequence.v1"
get_length = null

[training.batcher.size]
@schedules = "my_custom_schedule.v1"
start = 2
factor = 1.5
'''

# Stop words added to the language class before the nlp object exists, and removed from its vocab after.
CALLBACKS = '''
[nlp]
lang = "en"
pipeline = ["textcat"]

[nlp.before_creation]
@callbacks = "customize_language_data"
extra_stop_words = ["ooh", "aah"]
debug = false

[nlp.after_creation]
@callbacks = "remove_stop_words.v1"
words = ["nothing"]
''' + BOW_TEXTCAT

EXAMPLES = {"shared": (SHARED, "ud"), "independent": (INDEPENDENT, "ud"), "schedule": (SCHEDULE, "sst2"),
            "callbacks": (CALLBACKS, "sst2")}


def cli(*args, input=None, env=None) -> subprocess.CompletedProcess:
    "Run `python -m nlpnb ARGS` and return the completed process."
    return subprocess.run([sys.executable, "-m", "nlpnb", *map(str, args)], input=input, capture_output=True, text=True,
                          env={**os.environ, "NO_COLOR": "1", **(env or {})}, timeout=300)

def ok(*args, **kw) -> subprocess.CompletedProcess:
    res = cli(*args, **kw)
    assert res.returncode == 0, f"nlpnb {' '.join(map(str, args))} failed:\n{res.stderr[-3000:]}"
    return res

@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    "functions.py and the corpora: UD EWT slices (tags; cats LONG/SHORT by length) and SST-2 slices (cats), converted."
    work = tmp_path_factory.mktemp("examples")
    (work / "functions.py").write_text(FUNCTIONS)
    raw = work / "raw"; raw.mkdir()
    for split, n in (("train", 150), ("dev", 60)):
        blocks = (DATA / "ud_en_ewt" / f"en_ewt-ud-{split}.conllu").read_text(encoding="utf8").split("\n\n")[:n]
        (raw / f"ud_{split}.conllu").write_text("\n\n".join(blocks) + "\n\n", encoding="utf8")
    for split, n in (("train", 300), ("dev", 100)):
        rows = [line.rsplit("\t", 1) for line in (DATA / "sst2" / f"{split}.tsv").read_text(encoding="utf8").splitlines()[1:n + 1]]
        (raw / f"sst2_{split}.jsonl").write_text("".join(json.dumps({"text": t.strip(), "cats": {"POSITIVE": float(l), "NEGATIVE": 1.0 - int(l)}}) + "\n"
                                                     for t, l in rows), encoding="utf8")
    ok("convert", raw, work / "corpus", "-n", "3")
    vocab = nlpnb.blank("en").vocab
    for split in ("train", "dev"):  # UD has no document labels: give the textcat something to learn from
        path = work / "corpus" / f"ud_{split}.nlpnb"
        docs = list(DocBin().from_disk(path).get_docs(vocab))
        out = DocBin()
        for doc in docs:
            doc.cats = {"LONG": float(len(doc) > 40), "SHORT": float(len(doc) <= 40)}
            out.add(doc)
        out.to_disk(path)
    return work

def train_table(stdout: str):
    "The console logger's header and rows."
    header, *rows = [re.split(r"\s{2,}", l.strip()) for l in stdout.splitlines() if l.strip() and not l.startswith("-")]
    return header, rows

def dev_texts(work: Path, data: str, nlp):
    return [eg.reference.text for eg in Corpus(work / "corpus" / f"{data}_dev.nlpnb")(nlp)]

def predictions(nlp, texts):
    return [([t.tag_ for t in doc], {k: round(v, 5) for k, v in doc.cats.items()}) for doc in nlp.pipe(texts)]


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_example_config_fills_validates_trains_and_round_trips(work, tmp_path, name):
    base, data = EXAMPLES[name]
    (tmp_path / "base.cfg").write_text(base)
    code = ["--code", work / "functions.py"]
    ok("init", "fill-config", tmp_path / "base.cfg", tmp_path / "config.cfg", *code)
    overrides = {"paths.train": str(work / "corpus" / f"{data}_train.nlpnb"), "paths.dev": str(work / "corpus" / f"{data}_dev.nlpnb"),
                 "training.max_steps": 6, "training.eval_frequency": 3}
    args = [a for k, v in overrides.items() for a in (f"--{k}", v)]
    checked = ok("debug", "config", tmp_path / "config.cfg", *code, *args, "--show-functions")
    assert "Config is valid" in checked.stderr and "max_steps = 6" in checked.stdout
    if name in ("schedule", "callbacks"):  # the user's functions are found, in the user's file
        fn = "my_custom_schedule.v1" if name == "schedule" else "customize_language_data"
        assert re.search(rf"'{re.escape(fn)}' \(.*functions\.py:\d+\)", checked.stdout), checked.stdout
    train = ok("train", tmp_path / "config.cfg", *code, *args, "--output", tmp_path / "out")
    header, rows = train_table(train.stdout)
    assert [r[1] for r in rows] == ["0", "3", "6"], train.stdout

    import_code(str(work / "functions.py"))  # loading a pipeline whose config names the user's functions needs them too
    nlp = nlpnb.load(tmp_path / "out" / "model-last")
    # the saved config is the training config with the command line's overrides, every section included
    assert nlp.config == load_config(tmp_path / "config.cfg", overrides, use_env=False)
    # the saved weights are the trained ones: they score what the training log printed at the last step
    texts = dev_texts(work, data, nlp)
    scores = nlp.evaluate(list(Corpus(overrides["paths.dev"])(nlp)))
    logged = dict(zip(header, rows[-1]))
    if data == "ud": assert f"{100 * scores['tag_acc']:.2f}" == logged["TAG_ACC"], (scores, train.stdout)
    assert f"{100 * scores['cats_score']:.2f}" == logged["CATS_SCORE"], (scores, train.stdout)
    # a second round trip through nlp.to_disk / nlpnb.load changes neither the config nor any prediction
    nlp.to_disk(tmp_path / "again")
    again = nlpnb.load(tmp_path / "again")
    assert again.config.to_str() == nlp.config.to_str()
    assert predictions(again, texts) == predictions(nlp, texts)

    if name == "shared":
        assert nlp.pipe_names == ["tok2vec", "tagger", "textcat"]
        assert sorted(type(l).__name__ for l in nlp.get_pipe("tok2vec").listeners) == ["Tok2VecListener"] * 2
    if name == "independent":
        assert nlp.pipe_names == ["tagger", "textcat"] and "tok2vec" not in nlp.config["components"]
    if name == "schedule":  # the batcher follows the user's schedule: 2, 3, 4.5 -> 4, 6.75 -> 6, ...
        batcher = registry.resolve({"b": nlp.config["training"]["batcher"]})["b"]
        assert [len(b) for b in batcher(range(30))][:5] == [2, 3, 4, 6, 10]
    if name == "callbacks":
        assert [t.is_stop for t in again("ooh , nothing , aah and the")] == [True, False, False, False, True, True, True]
        assert [t.is_stop for t in nlpnb.blank("en")("ooh nothing")] == [False, True]  # no other pipeline changed


# --- broken configs: each kind fails, on `debug config` and on `train`, with a message that names the key ---

@pytest.fixture(scope="module")
def filled(work) -> Path:
    "The complete config of the custom-schedule example, with the callbacks added, trained on SST-2."
    paths = f'[paths]\ntrain = "{work / "corpus" / "sst2_train.nlpnb"}"\ndev = "{work / "corpus" / "sst2_dev.nlpnb"}"\n'
    (work / "base.cfg").write_text(paths + CALLBACKS + SCHEDULE.split(BOW_TEXTCAT)[1])
    status, _, err = run_cli(["init", "fill-config", str(work / "base.cfg"), str(work / "filled.cfg"), "--code", str(work / "functions.py")])
    assert status == 0, err
    return work / "filled.cfg"

BROKEN = {  # kind: (edit of the filled config text, extra command-line arguments, what the message must say)
    "unknown function": (("my_custom_schedule.v1", "my_custom_schedule.v2"), [],
                         ["training.batcher.size", "my_custom_schedule.v2", "Did you mean 'my_custom_schedule.v1'"]),
    "wrong type": (('extra_stop_words = ["ooh","aah"]', 'extra_stop_words = "ooh"'), [],
                   ["nlp.before_creation.extra_stop_words", "'ooh'"]),
    "missing value": (("factor = 1.5\n", ""), [], ["training.batcher.size.factor"]),
    "bad interpolation": (("seed = ${system.seed}", "seed = ${system.sed}"), [], ["training.seed", "system.sed"]),
    "override of a key that does not exist": (None, ["--training.batcher.size.strat", "3"], ["training.batcher.size.strat"]),
}

@pytest.mark.parametrize("kind", list(BROKEN))
def test_broken_config_names_the_key(filled, tmp_path, monkeypatch, kind):
    edit, extra, expected = BROKEN[kind]
    text = filled.read_text()
    if edit:
        assert edit[0] in text, edit
        text = text.replace(edit[0], edit[1], 1)
    (tmp_path / "config.cfg").write_text(text)
    runs = [(command, extra, {}) for command in (["debug", "config"], ["train"])]
    if not edit: runs.append((["train"], [], {"NLPNB_CONFIG_OVERRIDES": " ".join(extra)}))  # the environment's overrides too
    for command, args, env in runs:  # in this process (`main` is the command line without the start-up time)
        for k, v in env.items(): monkeypatch.setenv(k, v)
        status, out, err = run_cli([*command, str(tmp_path / "config.cfg"), "--code", str(filled.parent / "functions.py"), *args])
        assert status == 1, (command, out, err)
        for needle in expected: assert needle in err, (command, needle, err)

def test_custom_function_without_code_says_to_pass_it(filled):
    res = cli("debug", "config", filled)  # a fresh process, where functions.py was never imported
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr
    for needle in ("nlp.before_creation: Can't find 'customize_language_data'", "training.batcher.size: Can't find 'my_custom_schedule.v1'", "--code"):
        assert needle in res.stderr, res.stderr

def test_every_problem_is_listed_at_once(filled, tmp_path):
    text = filled.read_text().replace("factor = 1.5\n", "").replace("dropout = 0.1", "dropout = []").replace("max_steps = 20000", 'max_steps = "lots"')
    (tmp_path / "config.cfg").write_text(text)
    for command in (["debug", "config"], ["train"]):
        status, _, err = run_cli([*command, str(tmp_path / "config.cfg"), "--code", str(filled.parent / "functions.py")])
        assert status == 1 and "3 problem(s)" in err, err
        for line in ("training.batcher.size.factor: missing", "training.dropout: value is not a valid float (found [])",
                     "training.max_steps: value is not a valid integer (found 'lots')"):
            assert line in err, (command, err)

def test_pretraining_block_is_written_or_refused_with_a_clear_message(tmp_path):
    (tmp_path / "base.cfg").write_text('[nlp]\nlang = "en"\npipeline = []\n\n[components]\n')
    for args in (["init", "config", tmp_path / "config.cfg", "--pipeline", "textcat", "--pretraining"],
                 ["init", "fill-config", tmp_path / "base.cfg", tmp_path / "config.cfg", "--pretraining"]):
        status, _, err = run_cli(list(map(str, args)))
        assert status == 1 and err.startswith("error: --pretraining:") and "component = 'tok2vec'" in err, err
        assert not (tmp_path / "config.cfg").exists()
    status, _, err = run_cli(["init", "config", str(tmp_path / "config.cfg"), "--pipeline", "tagger", "--pretraining"])
    assert status == 0, err
    config = load_config(tmp_path / "config.cfg", {})
    assert config["pretraining"]["objective"]["@architectures"] == "nlpnb.PretrainCharacters.v1"
