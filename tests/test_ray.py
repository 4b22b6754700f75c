"""`nlpnb ray train` on a local Ray with 2 CPUs: two workers train tagger+parser like one process, save loadable
models, and survive a worker that dies mid-run. The Ray cluster is started and stopped by the module's fixture."""
import faulthandler, importlib.util, io, itertools, os, subprocess, sys
from pathlib import Path
import pytest

DATA = Path(__file__).parents[1].parent / "shared" / "data" / "ud_en_ewt"
pytestmark = [pytest.mark.skipif(not DATA.exists(), reason="../shared/data is missing"),
              pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                                 reason='Ray is not installed: pip install -e ".[ray]" runs these tests')]
SMALL = {"components.tok2vec.model.encode.width": 32, "components.tok2vec.model.embed.width": 32,
         "components.parser.model.hidden_width": 32, "training.eval_frequency": 40, "training.max_steps": 0,
         "training.max_epochs": 2}

def nlpnb(*args):
    res = subprocess.run([sys.executable, "-m", "nlpnb", *map(str, args)], capture_output=True, text=True,
                         env={**os.environ, "NO_COLOR": "1"}, timeout=300)
    return res

@pytest.fixture(scope="module")
def ray_cluster():
    import ray
    faulthandler.dump_traceback_later(600, exit=True)   # a hung cluster ends the run instead of blocking CI
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    try: yield ray
    finally:
        ray.shutdown(); faulthandler.cancel_dump_traceback_later()

@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    "600 EWT train and 100 dev sentences as .nlpnb files, a tagger+parser config, the overrides that point to them."
    from nlpnb.init_config import init_config
    from nlpnb.tokens import DocBin
    from nlpnb.training.converters import read_conllu
    from nlpnb.vocab import Vocab
    d = tmp_path_factory.mktemp("ray_corpus")
    for split, n in [("train", 600), ("dev", 100)]:
        DocBin(docs=list(itertools.islice(read_conllu(DATA / f"en_ewt-ud-{split}.conllu", Vocab()), n))).to_disk(d / f"{split}.nlpnb")
    init_config("en", ["tagger", "parser"]).to_disk(d / "config.cfg")
    overrides = {"paths.train": str(d / "train.nlpnb"), "paths.dev": str(d / "dev.nlpnb"), **SMALL}
    return d / "config.cfg", overrides

def cli_overrides(overrides):
    return [x for k, v in overrides.items() for x in (f"--{k}", v)]

def final_scores(stdout):
    rows = [l.split() for l in stdout.splitlines() if l.strip() and l.split()[0].isdigit()]
    return float(rows[0][-1]), float(rows[-1][-1])

def test_two_workers_train_like_one_process_and_save_loadable_models(ray_cluster, corpus, tmp_path):
    config, overrides = corpus
    one = nlpnb("train", config, "--output", tmp_path / "one", *cli_overrides(overrides))
    assert one.returncode == 0, one.stderr[-2000:]
    # the same config and overrides, on two workers of the fixture's cluster (joined with --address)
    two = nlpnb("ray", "train", config, "--n-workers", 2, "--address", ray_cluster.get_runtime_context().gcs_address,
                "--output", tmp_path / "two", *cli_overrides(overrides))
    assert two.returncode == 0, two.stderr[-3000:]
    (first1, last1), (first2, last2) = final_scores(one.stdout), final_scores(two.stdout)
    assert last1 > first1 + 20 and last2 > first2 + 20, (one.stdout, two.stdout)   # both learned
    assert abs(last2 - last1) < 8, (one.stdout, two.stdout)                       # to the same band
    assert "2 worker(s), 0 failed" in two.stderr and "stale (dropped" in two.stderr, two.stderr
    from nlpnb.language import load
    for name in ("model-best", "model-last"):
        nlp = load(tmp_path / "two" / name)
        doc = nlp("The dog barked at the mailman because he was late.")
        assert all(t.tag_ for t in doc) and sum(t.head.i == t.i for t in doc) >= 1, name
    assert (tmp_path / "two" / "report.html").exists()

def test_a_killed_worker_is_reported_and_the_run_ends_with_a_loadable_model(ray_cluster, corpus, tmp_path):
    import nlpnb.ray
    from nlpnb.config import load_config
    config, overrides = corpus
    err = io.StringIO()
    result = nlpnb.ray.train(load_config(config, {**overrides, "training.max_epochs": 1}), tmp_path / "out", n_workers=2,
                             crash_at=(1, 5), stdout=io.StringIO(), stderr=err)
    assert result["failures"] and result["failures"][0]["rank"] == 1, err.getvalue()
    assert "✘ Worker 1 failed:" in err.getvalue() and "re-owned" in err.getvalue(), err.getvalue()
    assert result["finished"] == [0] and result["workers"][0]["steps"] > 5
    from nlpnb.language import load
    doc = load(tmp_path / "out" / "model-last")("A short test sentence.")
    assert all(t.tag_ for t in doc)

def test_when_worker_0_dies_a_living_worker_saves_model_last(ray_cluster, corpus, tmp_path):
    import nlpnb.ray
    from nlpnb.config import load_config
    config, overrides = corpus
    err = io.StringIO()
    result = nlpnb.ray.train(load_config(config, {**overrides, "training.max_epochs": 1}), tmp_path / "out", n_workers=2,
                             crash_at=(0, 3), stdout=io.StringIO(), stderr=err)
    assert result["stopped_by_failure"] and [f["rank"] for f in result["failures"]] == [0], err.getvalue()
    assert "✘ Worker 0 failed: its process" in err.getvalue() and "worker 1 saved its weights" in err.getvalue(), err.getvalue()
    from nlpnb.language import load
    assert all(t.tag_ for t in load(tmp_path / "out" / "model-last")("Another short sentence."))

def test_an_unreachable_address_is_one_line(corpus):
    config, overrides = corpus
    res = nlpnb("ray", "train", config, "--address", "127.0.0.1:9", *cli_overrides(overrides))
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr
    assert res.stderr.splitlines()[-1].startswith("error: Can't reach the Ray cluster at 127.0.0.1:9: "), res.stderr
