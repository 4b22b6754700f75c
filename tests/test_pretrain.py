"""`nlpnb pretrain` as a user runs it, on real raw text: the first 300 sentences of EWT train as JSONL, `init config
--pretraining`, two short epochs (weights written, loss down), a resumed third epoch, then `nlpnb train` starting from
the weights with `[initialize] init_tok2vec` (which must really hold them), a tok2vec of another width refused with the
shapes, and the vectors objective against a small vectors table built here. Tiny widths, so it all takes seconds."""
import json, os, subprocess, sys
from pathlib import Path
import numpy as np
import pytest
import srsly

from nlpnb.config import load_config
from nlpnb.language import load
from nlpnb.registry import registry
from nlpnb.training.loop import init_nlp
from nlpnb.training.pretrain import pretrain
from nlpnb.vocab import Vectors

DATA = Path(__file__).parents[1].parent / "shared" / "data" / "ud_en_ewt"
pytestmark = pytest.mark.skipif(not DATA.exists(), reason="../shared/data is missing")
TINY = ["--components.tok2vec.model.embed.width", "32", "--components.tok2vec.model.encode.width", "32",
        "--components.tok2vec.model.encode.depth", "1", "--pretraining.objective.hidden_size", "32",
        "--pretraining.batcher.size", "500"]

def nlpnb(*args, ok=True):
    res = subprocess.run([sys.executable, "-m", "nlpnb", *map(str, args)], capture_output=True, text=True,
                         env={**os.environ, "NO_COLOR": "1"}, timeout=300)
    if ok: assert res.returncode == 0, f"nlpnb {' '.join(map(str, args))} failed:\n{res.stderr[-3000:]}"
    return res

def sentences(n):
    blocks = (DATA / "en_ewt-ud-train.conllu").read_text(encoding="utf8").split("\n\n")[:n]
    return blocks, [next(l[len("# text = "):] for l in b.splitlines() if l.startswith("# text = ")) for b in blocks]

def overrides(tmp, *extra):
    return ["--paths.raw_text", tmp / "raw.jsonl", *TINY, *extra]

def epoch_losses(out):
    "Loss per word of each finished epoch, from log.jsonl."
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    return {r["epoch"]: r["epoch_loss"] / r["epoch_words"] for r in log if r["file"] == f"model{r['epoch']}.bin"}

@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    "A config written by init config --pretraining, and two epochs of pretraining on 300 EWT sentences."
    tmp = tmp_path_factory.mktemp("pretrain")
    blocks, texts = sentences(300)
    srsly.write_jsonl(tmp / "raw.jsonl", [{"text": t} for t in texts])
    nlpnb("init", "config", tmp / "config.cfg", "--pipeline", "tagger", "--pretraining")
    run = nlpnb("pretrain", tmp / "config.cfg", tmp / "out", *overrides(tmp, "--pretraining.max_epochs", "2"))
    return tmp, run

def test_pretrain_writes_weights_and_the_loss_goes_down(pretrained):
    tmp, run = pretrained
    names = sorted(p.name for p in (tmp / "out").iterdir())
    assert names == ["config.cfg", "log.jsonl", "model-last.bin", "model0.bin", "model1.bin"], names
    header, *rows = [line.split() for line in run.stdout.splitlines()[1:]]
    assert header == ["#", "#", "Words", "Total", "Loss", "Loss", "w/s"] and [r[0] for r in rows][-1] == "1", run.stdout
    assert int(rows[-1][1]) > 5000 and all(int(r[-1]) > 0 for r in rows)  # words seen, words/s
    losses = epoch_losses(tmp / "out")
    assert losses[1] < losses[0] * 0.95, losses
    assert "init_tok2vec = " in run.stderr and not list((tmp / "out").glob("*.tmp*"))

def test_resume_continues_the_epoch_count(pretrained):
    tmp, _ = pretrained
    run = nlpnb("pretrain", tmp / "config.cfg", tmp / "out", "--resume-path", tmp / "out" / "model1.bin",
                *overrides(tmp, "--pretraining.max_epochs", "3"))
    assert "Resuming from" in run.stdout and (tmp / "out" / "model2.bin").exists()
    rows = [line.split() for line in run.stdout.splitlines()[2:] if line.strip()[:1].isdigit()]
    assert rows and {r[0] for r in rows} == {"2"}, run.stdout  # only the third epoch ran
    losses = epoch_losses(tmp / "out")
    assert sorted(losses) == [0, 1, 2] and losses[2] < losses[0], losses
    bad = nlpnb("pretrain", tmp / "config.cfg", tmp / "o2", "--resume-path", tmp / "raw.jsonl", *overrides(tmp), ok=False)
    assert bad.returncode == 1 and "--epoch-resume" in bad.stderr.splitlines()[-1], bad.stderr

def test_train_starts_from_the_pretrained_weights(pretrained):
    tmp, _ = pretrained
    blocks, _ = sentences(120)
    (tmp / "train.conllu").write_text("\n\n".join(blocks) + "\n\n", encoding="utf8")
    nlpnb("convert", tmp / "train.conllu", tmp / "corpus", "-n", "10")
    weights = tmp / "out" / "model1.bin"
    args = ["--paths.train", tmp / "corpus" / "train.nlpnb", "--paths.dev", tmp / "corpus" / "train.nlpnb",
            "--paths.init_tok2vec", weights, *TINY]
    nlpnb("train", tmp / "config.cfg", "--output", tmp / "trained", "--training.max_steps", "3",
          "--training.eval_frequency", "2", *args)
    trained = load(tmp / "trained" / "model-last")  # saves, loads and predicts like any pipeline
    assert trained.pipe_names == ["tok2vec", "tagger"] and all(t.tag_ for t in trained("This is a sentence."))
    config = load_config(tmp / "config.cfg", {k.lstrip("-"): _value(v) for k, v in zip(args[::2], args[1::2])})
    nlp = init_nlp(config)
    assert nlp.get_pipe("tok2vec").model.to_bytes() == weights.read_bytes()
    config["initialize"]["init_tok2vec"] = None  # without it the tok2vec starts elsewhere
    assert init_nlp(config).get_pipe("tok2vec").model.to_bytes() != weights.read_bytes()

def _value(v):
    v = str(v)
    return int(v) if v.isdigit() else v

def test_a_tok2vec_of_another_width_is_refused(pretrained):
    tmp, _ = pretrained
    (tmp / "one.conllu").write_text("\n\n".join(sentences(20)[0]) + "\n\n", encoding="utf8")
    nlpnb("convert", tmp / "one.conllu", tmp / "small", "-n", "10")
    res = nlpnb("train", tmp / "config.cfg", "--paths.train", tmp / "small" / "one.nlpnb", "--paths.dev", tmp / "small" / "one.nlpnb",
                "--paths.init_tok2vec", tmp / "out" / "model1.bin", *TINY, "--components.tok2vec.model.embed.width", "16",
                "--components.tok2vec.model.encode.width", "16", "--training.max_steps", "1", ok=False)
    last = res.stderr.strip().splitlines()[-1]
    assert res.returncode == 1 and last.startswith("error: [initialize] init_tok2vec = "), res.stderr
    assert "don't fit [pretraining] component = 'tok2vec', layer = ''" in last and "W: (32, 3, 128) in the file, (16, 3, 64) in the model" in last, last

@registry.callbacks("test_pretrain.add_vectors.v1")
def make_add_vectors(path: str, width: int = 8):
    "A before_init callback: random (seeded) static vectors for every word of the raw text at `path`."
    def add_vectors(nlp):
        words = sorted({w for r in srsly.read_jsonl(path) for w in nlp.make_doc(r["text"]).words})
        data = np.random.default_rng(0).normal(size=(len(words), width)).astype("float32")
        nlp.vocab.vectors = Vectors(data=data, keys=[nlp.vocab.strings[w] for w in words])
    return add_vectors

def test_vectors_objective(pretrained):
    tmp, _ = pretrained
    config = load_config(tmp / "config.cfg", {k.lstrip("-"): _value(v) for k, v in zip(overrides(tmp)[::2], overrides(tmp)[1::2])})
    config["pretraining"]["max_epochs"] = 2
    config["pretraining"]["objective"] = {"@architectures": "nlpnb.PretrainVectors.v1", "maxout_pieces": 3, "hidden_size": 32, "loss": "cosine"}
    with pytest.raises(ValueError, match=r"\[pretraining.objective\] nlpnb.PretrainVectors.v1 predicts static vectors, but the vocab has none"):
        pretrain(config, tmp / "vec0", silent=True)
    config["initialize"]["before_init"] = {"@callbacks": "test_pretrain.add_vectors.v1", "path": str(tmp / "raw.jsonl"), "width": 8}
    pretrain(config, tmp / "vec", silent=True)
    losses = epoch_losses(tmp / "vec")
    assert (tmp / "vec" / "model1.bin").exists() and losses[1] < losses[0], losses
