"""Issue 20, reliability and security: crafted component names, two trainings into one folder, crashed saves."""
import io, os, sys
from pathlib import Path

import pytest

import nlpnb
from nlpnb.language import Language, load
from nlpnb.util import COMPLETE_MARKER, recover_dir, write_dir_atomic

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from _fixtures import EWT_DEV, train_tiny  # the tiny tagger + parser benchmarks/fuzz_reliability.py fuzzes too


def _pipeline() -> Language:
    nlp = nlpnb.blank("en")
    nlp.add_pipe("sentencizer")
    return nlp


# --- path traversal through component names -------------------------------------------------------------

def test_add_pipe_refuses_absolute_path_name(tmp_path):
    victim = tmp_path / "x" / "victim"
    nlp = nlpnb.blank("en")
    with pytest.raises(ValueError, match="Invalid component name '/.*victim'.*path separator"):
        nlp.add_pipe("sentencizer", name=str(victim))
    nlp.to_disk(tmp_path / "d")
    assert not victim.exists()


def test_add_pipe_refuses_parent_name(tmp_path):
    nlp = nlpnb.blank("en")
    with pytest.raises(ValueError, match=r"Invalid component name '\.\./\.\./escaped'"):
        nlp.add_pipe("sentencizer", name="../../escaped")
    assert not (tmp_path.parent / "escaped").exists()


@pytest.mark.parametrize("name", ["", ".", "..", ".hidden", "a\\b", "a\x00b", "a\nb", "tokenizer", "vocab", "meta.json", "config.cfg"])
def test_bad_names_refused_with_the_rule(name):
    with pytest.raises(ValueError, match="Invalid component name") as e:
        nlpnb.blank("en").add_pipe("sentencizer", name=name)
    assert "must be non-empty" in str(e.value)


def test_rename_pipe_refuses_bad_name():
    nlp = _pipeline()
    with pytest.raises(ValueError, match="Invalid component name"):
        nlp.rename_pipe("sentencizer", "../../escaped")
    assert nlp.pipe_names == ["sentencizer"]


@pytest.mark.parametrize("bad", ["/tmp/x/victim", "../../escaped", "vocab"])
def test_load_refuses_model_folder_whose_config_names_bad_component(tmp_path, bad):
    d = tmp_path / "model"
    _pipeline().to_disk(d)
    cfg = (d / "config.cfg").read_text()
    (d / "config.cfg").write_text(cfg.replace('pipeline = ["sentencizer"]', f'pipeline = ["{bad}"]'))
    with pytest.raises(ValueError, match="not a valid component name"):
        load(d)


def test_to_disk_and_from_disk_stay_inside_the_folder(tmp_path):
    nlp = _pipeline()
    nlp._components = [("../../escaped", nlp.get_pipe("sentencizer"))]   # bypassing add_pipe
    with pytest.raises(ValueError, match="Invalid component name"):
        nlp.to_disk(tmp_path / "a" / "b" / "d")
    assert not (tmp_path / "a" / "escaped").exists() and not (tmp_path / "a" / "b" / "d").exists()


def test_load_does_not_follow_component_symlink_out(tmp_path):
    d = tmp_path / "model"
    _pipeline().to_disk(d)
    outside = tmp_path / "outside"
    os.replace(d / "sentencizer", outside)
    os.symlink(outside, d / "sentencizer")
    with pytest.raises(ValueError, match="leads outside the folder"):
        load(d)


# --- crashed saves: recovery and stale temporaries -------------------------------------------------------

def _save(nlp: Language, d: Path, marker: str) -> None:
    nlp.meta["description"] = marker
    nlp.to_disk(d)


def test_load_recovers_complete_tmp_after_kill_between_renames(tmp_path):
    d = tmp_path / "model-last"
    nlp = _pipeline()
    _save(nlp, d, "old")
    os.replace(d, tmp_path / ".model-last.aaaaaaaaaaaa.old")          # first rename done
    _save(nlp, tmp_path / "new", "new")                                  # the complete new copy, as the tmp held it
    os.replace(tmp_path / "new", tmp_path / ".model-last.bbbbbbbbbbbb.tmp")
    (tmp_path / ".model-last.bbbbbbbbbbbb.tmp" / COMPLETE_MARKER).touch()
    assert load(d).meta["description"] == "new"
    assert not (d / COMPLETE_MARKER).exists()


def test_load_recovers_old_when_tmp_is_incomplete(tmp_path):
    d = tmp_path / "model-best"
    nlp = _pipeline()
    _save(nlp, d, "old")
    os.replace(d, tmp_path / ".model-best.aaaaaaaaaaaa.old")
    half = tmp_path / ".model-best.bbbbbbbbbbbb.tmp"
    half.mkdir(); (half / "config.cfg").write_text("[nlp")                # killed while writing: no marker
    assert load(d).meta["description"] == "old"


def test_from_disk_recovers(tmp_path):
    d = tmp_path / "model"
    nlp = _pipeline()
    _save(nlp, d, "old")
    os.replace(d, tmp_path / ".model.aaaaaaaaaaaa.old")
    assert _pipeline().from_disk(d).pipe_names == ["sentencizer"] and (d / "config.cfg").exists()


def test_save_recovers_then_cleans_stale_siblings(tmp_path):
    d = tmp_path / "model-last"
    nlp = _pipeline()
    _save(nlp, d, "old")
    os.replace(d, tmp_path / ".model-last.aaaaaaaaaaaa.old")
    (tmp_path / ".model-last.cccccccccccc.tmp").mkdir()                 # a save killed while writing
    (tmp_path / ".model-best.dddddddddddd.tmp").mkdir()                 # another folder's: not ours to remove
    def fail(tmp): raise OSError("disk full")
    with pytest.raises(OSError, match="disk full"):
        write_dir_atomic(d, fail)
    assert (d / "config.cfg").exists()                                  # the failed save left the last complete copy
    _save(nlp, d, "new")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".model-best.dddddddddddd.tmp", "model-last"]
    assert load(d).meta["description"] == "new"


def test_recover_dir_leaves_existing_folder_alone(tmp_path):
    d = tmp_path / "m"
    d.mkdir()
    (tmp_path / ".m.aaaaaaaaaaaa.old").mkdir()
    assert recover_dir(d) is None and recover_dir(tmp_path / "nothing") is None


# --- two trainings into one output folder ----------------------------------------------------------------

CODE = '''
import time
from pathlib import Path
from thinc.api import Linear, Logistic, Model, chain
from nlpnb.language import Language
from nlpnb.pipeline.base import TrainablePipe
from nlpnb.registry import registry

def has_digit() -> Model:
    def forward(model, docs, is_train):
        return model.ops.asarray2f([[float(any(t.text.isdigit() for t in d)), 1.0] for d in docs]), lambda dX: []
    return Model("has_digit", forward)

class NumberFlag(TrainablePipe):
    def predict(self, docs): return self.model.predict(docs)
    def set_annotations(self, docs, scores):
        for d, s in zip(docs, scores): d.cats["NUMBER"] = float(s[0])
    def get_loss(self, examples, scores):
        truth = self.model.ops.asarray2f([[eg.reference.cats["NUMBER"]] for eg in examples])
        return float(((scores - truth) ** 2).sum()), scores - truth
    def initialize(self, get_examples, *, nlp=None): self.model.initialize()

def score(examples, **kwargs):
    right = [(eg.predicted.cats["NUMBER"] > 0.5) == (eg.reference.cats["NUMBER"] > 0.5) for eg in examples]
    return {"cats_score": sum(right) / len(right)}

@Language.factory("rel_flag", default_score_weights={"cats_score": 1.0})
def make(nlp: Language, name: str):
    pipe = NumberFlag(nlp.vocab, chain(has_digit(), Linear(1, 2), Logistic()), name=name)
    pipe.scorer = score
    return pipe

@registry.callbacks("rel.wait.v1")
def wait_at_step(flag_dir: str, step: int):
    "At `step`, say so (file `waiting`) and wait for the file `release`: the test starts its second training then."
    def before_update(nlp, info):
        if info["step"] != step: return
        (Path(flag_dir) / "waiting").touch()
        for _ in range(600):
            if (Path(flag_dir) / "release").exists(): return
            time.sleep(0.05)
    return before_update
'''


@pytest.fixture
def training_setup(tmp_path):
    from thinc.api import Config
    from nlpnb.init_config import fill_config
    from nlpnb.tokens import DocBin
    from nlpnb.util import import_code
    (tmp_path / "functions.py").write_text(CODE)
    import_code(tmp_path / "functions.py")
    maker = nlpnb.blank("en")
    def corpus(texts, path):
        docs = []
        for t in texts:
            d = maker.make_doc(t); d.cats = {"NUMBER": float(any(c.isdigit() for c in t))}; docs.append(d)
        DocBin(docs=docs).to_disk(path)
    corpus(["I have 3 cats", "no numbers here", "call 911 now", "quiet evening"] * 3, tmp_path / "train.nlpnb")
    corpus(["route 66", "silence"], tmp_path / "dev.nlpnb")
    base = Config().from_str('[nlp]\nlang = "en"\npipeline = ["rel_flag"]\n\n[components]\n\n[components.rel_flag]\nfactory = "rel_flag"')
    config = fill_config(base)
    config["paths"]["train"], config["paths"]["dev"] = str(tmp_path / "train.nlpnb"), str(tmp_path / "dev.nlpnb")
    config["training"]["max_steps"], config["training"]["eval_frequency"] = 10, 5
    config["training"]["before_update"] = {"@callbacks": "rel.wait.v1", "flag_dir": str(tmp_path), "step": 3}
    config.to_disk(tmp_path / "config.cfg")
    return tmp_path


def _wait_for(path: Path, proc, seconds: float = 60) -> None:
    import time
    deadline = time.monotonic() + seconds
    while not path.exists():
        if proc.poll() is not None: raise AssertionError(f"the first training ended early: {proc.communicate()}")
        if time.monotonic() > deadline: raise AssertionError(f"{path} never appeared")
        time.sleep(0.05)


def test_second_training_into_same_output_is_refused(training_setup):
    import subprocess, sys
    from nlpnb.cli import run_cli
    d = training_setup
    args = ["train", str(d / "config.cfg"), "--output", str(d / "out"), "--code", str(d / "functions.py")]
    first = subprocess.Popen([sys.executable, "-c", f"import sys; from nlpnb.cli import main; sys.exit(main({args!r}))"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(d / "waiting", first)                                  # the first holds the lock, mid-training
        status, _, err = run_cli(args)
        assert status == 1, err
        line = [ln for ln in err.splitlines() if ln.startswith("error:")]
        assert len(line) == 1 and "Another training is writing to" in line[0] and str(d / "out") in line[0], err
    finally:
        (d / "release").touch()
        out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    for name in ("model-best", "model-last"):
        assert load(d / "out" / name)("room 101").cats.keys() == {"NUMBER"}
    status, _, err = run_cli(args)                                      # the lock is released at the end
    assert status == 0, err


# --- a failing report write does not hide the real save error --------------------------------------------

def test_save_error_not_hidden_by_report_error(training_setup, monkeypatch):
    from thinc.api import Config
    import nlpnb.training.loop as loop
    d = training_setup
    (d / "release").touch()
    def read_only(*args, **kwargs): raise OSError(30, "Read-only file system", str(d / "out" / "model-last"))
    def report_fails(records, path): raise PermissionError(13, "Permission denied", str(path))
    monkeypatch.setattr(loop, "save_pipeline", read_only)
    monkeypatch.setattr(loop, "write_report", report_fails)
    nlp = loop.init_nlp(Config().from_disk(d / "config.cfg"))
    with pytest.warns(UserWarning, match="Could not write the training report"):
        with pytest.raises(OSError, match="Read-only file system"):
            loop.train(nlp, d / "out", stdout=io.StringIO(), stderr=io.StringIO())


def test_earlier_versions_temporaries_recovered_and_cleaned(tmp_path):
    d = tmp_path / "model-last"
    nlp = _pipeline()
    _save(nlp, d, "old")
    os.replace(d, tmp_path / ".model-last.old-12345")                   # as an earlier version left them
    (tmp_path / ".model-last.tmp-k2j_9xq0").mkdir()
    assert load(d).meta["description"] == "old"
    _save(nlp, d, "new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model-last"]


# --- a small trained tagger + parser, saved once ---------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    if not EWT_DEV.exists(): pytest.skip("../shared/data is missing")
    out = tmp_path_factory.mktemp("tiny") / "model"
    train_tiny(out)
    return out


def test_empty_text_has_no_sentences(tiny_model):
    nlp = load(tiny_model)
    assert list(nlp("").sents) == []
    assert len(list(nlp("Hello there. Bye now, see you.").sents)) >= 1
    assert list(_pipeline()("").sents) == []


def test_doc_from_json_on_a_doc_as_spacy_calls_it(tiny_model):
    from nlpnb.tokens import Doc
    nlp = load(tiny_model)
    data = nlp("Ada wrote code.").to_json()
    for back in (Doc(nlp.vocab).from_json(data), Doc.from_json(nlp.vocab, data), Doc(nlp.vocab).from_json(data, validate=True)):
        assert back.to_json() == data and back.vocab is nlp.vocab


# --- model folders: every damaged or missing part fails at load, naming the file -------------------------

def _copy(model: Path, tmp_path: Path) -> Path:
    import shutil
    return Path(shutil.copytree(model, tmp_path / "model"))


@pytest.mark.parametrize("part", ["parser/moves", "vocab/strings.json", "meta.json", "tagger/cfg", "parser/cfg",
                                  "vocab/vectors/vectors.cfg", "vocab/vectors/key2row.msgpack", "vocab/vectors/vectors.npy",
                                  "tagger/model", "parser/model", "tokenizer", "config.cfg"])
def test_non_json_bytes_name_the_file(tiny_model, tmp_path, part):
    d = _copy(tiny_model, tmp_path)
    (d / part).write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe binary junk")
    with pytest.raises(ValueError, match=str(d / part)) as e:
        load(d)
    assert not isinstance(e.value, UnicodeError)


@pytest.mark.parametrize("part,text", [("tagger/cfg", '{"labels": null, "overwrite": false}'), ("tagger/cfg", '{"labels": [1, 2]}'),
                                       ("parser/cfg", '{"beam_width": "wide"}'), ("parser/moves", '{"labels": "ROOT"}'),
                                       ("parser/moves", '{"labels": ["ROOT", "nsubj"], "seen": [true]}'),
                                       ("vocab/strings.json", '{"a": 1}'), ("vocab/strings.json", '["a", 5]'), ("meta.json", "[]")])
def test_wrong_shape_json_names_the_file(tiny_model, tmp_path, part, text):
    d = _copy(tiny_model, tmp_path)
    (d / part).write_text(text)
    with pytest.raises(ValueError, match=str(d / part.split("/")[0])):
        load(d)


@pytest.mark.parametrize("part", ["parser", "tagger/model", "parser/moves", "tagger/cfg", "tokenizer", "vocab",
                                  "vocab/strings.json", "meta.json"])
def test_missing_part_fails_at_load(tiny_model, tmp_path, part):
    import shutil
    d = _copy(tiny_model, tmp_path)
    shutil.rmtree(d / part) if (d / part).is_dir() else (d / part).unlink()
    missing = d / part if part != "vocab" else d / "vocab" / "strings.json"
    with pytest.raises(ValueError, match=f"{missing} is missing: nlp.to_disk writes it"):
        load(d)


def test_damaged_pipeline_line_fails_at_load(tiny_model, tmp_path):
    # found by the fuzz benchmark: NUL bytes over `pipeline = [...]` in [nlp] parsed, and the pipeline loaded with no components
    import re
    d = _copy(tiny_model, tmp_path)
    text = (d / "config.cfg").read_text()
    (d / "config.cfg").write_text(re.sub(r"(?m)^pipeline = .*$", lambda m: "p" + "\0" * 20 + "ion = null", text, count=1))
    with pytest.raises(ValueError, match=r"config.cfg builds the components \[\], but .*meta.json lists \['tagger', 'parser'\]"):
        load(d)
    nlp = load(tiny_model, disable=["parser"])      # disabled components are still built: no mismatch
    assert nlp.pipe_names == ["tagger"] and nlp.component_names == ["tagger", "parser"]


def test_excluded_parts_need_not_exist(tiny_model, tmp_path):
    import shutil
    d = _copy(tiny_model, tmp_path)
    shutil.rmtree(d / "parser"); (d / "tokenizer").unlink()
    nlp = load(d, exclude=["parser", "tokenizer"])
    assert nlp.pipe_names == ["tagger"] and len(nlp("Ada wrote code.")) == 4


def test_intact_copy_loads_and_predicts_the_same(tiny_model, tmp_path):
    d = _copy(tiny_model, tmp_path)
    text = "Ada Lovelace wrote the first program."
    a, b = load(tiny_model)(text), load(d)(text)
    assert [(t.tag_, t.head.i, t.dep_) for t in a] == [(t.tag_, t.head.i, t.dep_) for t in b]


# --- an empty dev set is refused before training ----------------------------------------------------------

def test_empty_dev_corpus_refused(training_setup):
    from nlpnb.cli import run_cli
    from nlpnb.tokens import DocBin
    d = training_setup
    (d / "release").touch()
    DocBin().to_disk(d / "empty.nlpnb")
    args = ["train", str(d / "config.cfg"), "--output", str(d / "out"), "--code", str(d / "functions.py"), "--paths.dev", str(d / "empty.nlpnb")]
    status, _, err = run_cli(args)
    assert status == 1, err
    assert f"error: The dev corpus [corpora.dev] (path = '{d / 'empty.nlpnb'}') yields no examples" in err, err
    assert not (d / "out" / "model-last").exists()


# --- concurrent saves and loads of one folder outside training -------------------------------------------

def _saver(nlp: Language, target: Path, name: str, n: int) -> None:
    for k in range(n):
        nlp.meta["description"] = f"{name}-{k}"
        nlp.to_disk(target)


def _loader(target: Path, done, loads) -> None:
    while not done.is_set() or loads.value < 3:
        if not target.exists(): continue
        nlp = load(target)
        assert nlp.meta["description"].split("-")[0] in ("a", "b"), nlp.meta
        assert nlp.pipe_names == ["tagger", "parser"]
        loads.value += 1


def test_concurrent_saves_and_loads_leave_a_whole_model(tiny_model, tmp_path):
    "Two processes save one folder 25 times each while a third loads it: every save and load succeeds."
    import multiprocessing
    ctx = multiprocessing.get_context("fork")   # forked from this process: no interpreter start-up per process
    nlp, target = load(tiny_model), tmp_path / "shared" / "model"
    done, loads = ctx.Event(), ctx.Value("i", 0)
    loader = ctx.Process(target=_loader, args=(target, done, loads))
    savers = [ctx.Process(target=_saver, args=(nlp, target, name, 25)) for name in ("a", "b")]
    for p in [loader] + savers: p.start()
    for p in savers: p.join(120)
    done.set(); loader.join(120)
    assert [p.exitcode for p in savers + [loader]] == [0, 0, 0], "a save or a load failed (its traceback is above)"
    assert loads.value >= 3
    assert load(target).meta["description"] in ("a-24", "b-24")          # the last complete copy wins
    assert sorted(p.name for p in target.parent.iterdir()) == ["model"]   # no temporaries left


def test_config_with_broken_reference_names_the_file(tiny_model, tmp_path):
    d = _copy(tiny_model, tmp_path)
    text = (d / "config.cfg").read_text()
    (d / "config.cfg").write_text(text[:text.index("${paths.") + 10])          # cut inside a ${...} reference
    with pytest.raises(ValueError, match=str(d / "config.cfg")):
        load(d)


def test_weights_that_do_not_fit_the_config_name_both(tiny_model, tmp_path):
    d = _copy(tiny_model, tmp_path)
    text = (d / "config.cfg").read_text()
    (d / "config.cfg").write_text(text.replace("width = 32", "width = 48", 1))
    with pytest.raises(ValueError, match=rf"\[E149\] Can't load the model of component '\w+' from {d}/\w+/model: .*config.cfg"):
        load(d)
