"""Issue 20, reliability and security: crafted component names, two trainings into one folder, crashed saves."""
import os
from pathlib import Path

import pytest

import nlpnb
from nlpnb.language import Language, load
from nlpnb.util import COMPLETE_MARKER, recover_dir, write_dir_atomic


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
