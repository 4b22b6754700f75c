"""`nlpnb package`: a trained pipeline with custom code, built as a wheel, installed into a fresh virtual environment
without the network, loaded there by name, and predicting what the folder predicts."""
import io, json, os, subprocess, sys, site, warnings
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "ud_en_ewt"
pytestmark = pytest.mark.skipif(not DATA.exists(), reason="../shared/data is missing")

CODE = '''
from nlpnb import registry

@registry.architectures("pkgtest.HashEmbed.v1")
def pkgtest_embed(width: int, attrs: list, rows: list, include_static_vectors: bool = False):
    "MultiHashEmbed under a name only this file registers: a pipeline using it needs this file to load."
    return registry.architectures.get("nlpnb.MultiHashEmbed.v1")(width=width, attrs=attrs, rows=rows,
                                                                include_static_vectors=include_static_vectors)
'''
TEXTS = ["The quick brown fox jumps over the lazy dog.", "I would like to book a flight to Boston tomorrow.",
         "Prices rose by 3 % in March , analysts said ."]

def run(*args, env=None, **kw):
    res = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=300, env=env, **kw)
    assert res.returncode == 0, f"{' '.join(map(str, args))} failed:\n{res.stdout[-2000:]}\n{res.stderr[-3000:]}"
    return res

@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    "A tagger trained for 6 steps on 200 EWT sentences, whose config needs the custom architecture in CODE."
    from nlpnb.init_config import init_config
    from nlpnb.tokens import DocBin
    from nlpnb.training.converters import read_conllu
    from nlpnb.training.loop import init_nlp, train
    from nlpnb.util import import_code
    tmp = tmp_path_factory.mktemp("trained")
    (tmp / "functions.py").write_text(CODE); import_code(tmp / "functions.py")
    blocks = (DATA / "en_ewt-ud-train.conllu").read_text(encoding="utf8").split("\n\n")[:200]
    (tmp / "train.conllu").write_text("\n\n".join(blocks) + "\n\n", encoding="utf8")
    DocBin(docs=read_conllu(tmp / "train.conllu", n_sents=10)).to_disk(tmp / "train.nlpnb")
    cfg = init_config("en", ["tagger"])
    cfg["paths"].update(train=str(tmp / "train.nlpnb"), dev=str(tmp / "train.nlpnb"))
    cfg["training"].update(max_steps=6, eval_frequency=3)
    cfg["components"]["tok2vec"]["model"]["encode"]["width"] = 32
    cfg["components"]["tok2vec"]["model"]["embed"].update({"@architectures": "pkgtest.HashEmbed.v1", "width": 32})
    nlp, best = train(init_nlp(cfg), tmp / "out", stdout=io.StringIO(), stderr=io.StringIO())
    assert best is not None
    return tmp, best

def test_package_wheel_installs_offline_into_a_fresh_venv_and_loads_by_name(trained, tmp_path):
    from packaging.utils import parse_wheel_filename
    from nlpnb.language import load
    tmp, best = trained
    meta = json.loads((best / "meta.json").read_text())
    assert meta["nlpnb_version"] == ">=0.1.0,<0.2.0"
    assert meta["performance"]["tag_acc"] > 0 and meta["performance"]["speed"] > 0   # training wrote the best evaluation
    expected = [[t.tag_ for t in doc] for doc in load(best).pipe(TEXTS)]
    (tmp_path / "dist").mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run(sys.executable, "-m", "nlpnb", "package", best, tmp_path / "dist", "--code", tmp / "functions.py",
        "--name", "pkgtest", "--version", "0.0.1", "--build", "sdist,wheel", env={**env, "PYTHONPATH": str(ROOT)})
    built = sorted(p.name for p in (tmp_path / "dist" / "en_pkgtest-0.0.1" / "dist").iterdir())
    assert built == ["en_pkgtest-0.0.1-py3-none-any.whl", "en_pkgtest-0.0.1.tar.gz"]
    name, version, _, tags = parse_wheel_filename(built[0])          # what pip checks a wheel's file name with
    assert (name, str(version), [str(t) for t in tags]) == ("en-pkgtest", "0.0.1", ["py3-none-any"])
    wheels = [tmp_path / "dist" / "en_pkgtest-0.0.1" / "dist" / built[0]]
    # a fresh venv without pip; this environment's pip installs into it (--python), from the wheel only (--no-index:
    # no index is contacted, so nothing can come from the network). nlpnb and its dependencies are not installed
    # there: a .pth file puts this worktree and this environment's site-packages at the END of its sys.path, so the
    # venv's own site-packages (where the wheel goes) is searched first, and nothing is downloaded or copied.
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    py = venv / "bin" / "python"
    purelib = run(py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", env=env).stdout.strip()
    Path(purelib, "_nlpnb_dev.pth").write_text("\n".join([str(ROOT), *site.getsitepackages()]) + "\n")
    pip = run(sys.executable, "-m", "pip", "--python", py, "install", "--no-index", "--no-deps", wheels[0],
              env={**env, "PIP_NO_INDEX": "1"})
    assert "Successfully installed en-pkgtest-0.0.1" in pip.stdout and "Downloading" not in pip.stdout
    script = f'''
import json, sys, nlpnb
try: nlpnb.load({str(best)!r})
except Exception as e: missing = str(e)
else: missing = ""
nlp = nlpnb.load("en_pkgtest")
import en_pkgtest
from nlpnb.installed import installed_pipelines
from nlpnb.info import info_data
print(json.dumps({{"tags": [[t.tag_ for t in d] for d in nlp.pipe({TEXTS!r})], "package": en_pkgtest.__file__,
                   "nlpnb": nlpnb.__file__, "prefix": sys.prefix, "name": nlp.meta["name"], "missing": missing,
                   "installed": installed_pipelines(),
                   "info": info_data()["Pipeline packages"], "info_model": info_data("en_pkgtest")["version"]}}))
'''
    out = json.loads(run(py, "-c", script, env=env, cwd=tmp_path).stdout)
    assert out["package"].startswith(out["prefix"]) and out["prefix"] == str(venv)   # the installed copy
    assert out["nlpnb"].startswith(str(ROOT))                                          # this worktree's nlpnb
    assert out["tags"] == expected and out["name"] == "pkgtest"
    assert out["installed"] == {"en_pkgtest": "0.0.1"}
    assert (out["info"], out["info_model"]) == ("en_pkgtest (0.0.1)", "0.0.1")   # what `nlpnb info` prints
    assert "pkgtest.HashEmbed.v1" in out["missing"]   # the folder alone, without the code file, can't load

def test_a_pipeline_for_another_nlpnb_version_warns(tmp_path):
    import nlpnb
    from nlpnb.installed import IncompatibleVersionWarning
    nlp = nlpnb.blank("en"); nlp.add_pipe("sentencizer"); nlp.to_disk(tmp_path / "p")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nlpnb.load(tmp_path / "p")            # its own version: no warning
    meta = json.loads((tmp_path / "p" / "meta.json").read_text())
    (tmp_path / "p" / "meta.json").write_text(json.dumps({**meta, "nlpnb_version": ">=9.0.0,<9.1.0"}))
    with pytest.warns(IncompatibleVersionWarning, match=r"built for nlpnb >=9.0.0,<9.1.0, but this is nlpnb 0.1.0"):
        assert nlpnb.load(tmp_path / "p").pipe_names == ["sentencizer"]
