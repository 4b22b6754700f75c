"""The parser's GPU path (`nlpnb.ml.parser_device`) under Numba's CUDA simulator: on real EWT and WikiANN sentences
the device decoding loop gives exactly the CPU loop's parses and entities, and the device update exactly its oracle
costs (and its gradients to float precision, with and without hidden dropout); `--gpu-id 0` without a GPU fails with one clear line."""
import json, os, subprocess, sys, textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
EWT, WIKIANN = DATA / "ud_en_ewt", DATA / "wikiann_en"

SIM_CODE = textwrap.dedent("""
    import itertools, json, random, sys, numpy as np
    from numba import config
    assert config.ENABLE_CUDASIM
    from thinc.api import fix_random_seed, set_dropout_rate
    import nlpnb
    from nlpnb.tokens.doc import Doc
    from nlpnb.training.example import Example
    from nlpnb.training.converters import read_conllu, read_iob
    from nlpnb.ml.parser_device import CudaSimOps, device_update
    from nlpnb.pipeline.transition_parser import replay
    kind, path = sys.argv[1], sys.argv[2]
    fix_random_seed(0); random.seed(0)
    nlp = nlpnb.blank("en")
    pipe = nlp.add_pipe(kind, config={"model": {"hidden_width": 16, "tok2vec": {"width": 32, "depth": 1}}})
    read = read_conllu if kind == "parser" else read_iob
    docs = list(itertools.islice(read(path, nlp.vocab), 160))
    egs = [Example(Doc(nlp.vocab, [t.text for t in d], spaces=[bool(t.whitespace_) for t in d]), d) for d in docs]
    train, test = egs[:150], [eg for eg in egs[150:] if len(eg.predicted)][:6]
    opt = nlp.initialize(lambda: train)
    for i in range(0, 150, 16): nlp.update(train[i:i + 16], sgd=opt)     # a model whose scores mean something
    model, moves = pipe.model, pipe.moves
    set_dropout_rate(model, 0.0)
    def ops_to(ops):
        for node in model.walk(): node.ops = ops
    cpu_ops = model.ops
    out = {}
    # decoding: the CPU loop, then the device loop (pipe.predict takes it for device ops)
    docs = [eg.predicted for eg in test]
    S_cpu = pipe.predict(docs)
    ops_to(CudaSimOps()); S_dev = pipe.predict(docs); ops_to(cpu_ops)
    out["states"] = [f for f in S_cpu._fields if not np.array_equal(getattr(S_cpu, f), getattr(S_dev, f))]
    out["annotated"] = int((S_cpu.heads >= 0).sum() if kind == "parser" else (S_cpu.ent_iob > 0).sum())
    # the update: oracle costs at every step, gradients, loss, seen moves
    S0 = moves.init_states(docs); G0 = moves.gold(test, S0)
    def grads():
        g = {}
        for node in model.walk():
            for name in node.param_names:
                if node.has_grad(name):
                    g[(node.id, name)] = np.array(node.get_grad(name)); node.set_grad(name, np.zeros_like(g[(node.id, name)]))
        return g
    grads(); seen0 = np.array(model.attrs["seen"])
    def compare_update(key, sim_ops):
        (_, steps), backprop = model.begin_update((docs, moves, S0, None))
        cpu_costs = [moves.costs(R, G0)[active] for R, active, _, _ in replay(moves, S0, steps)]
        gs, loss_cpu = pipe._replay_grads(S0, G0, steps)
        backprop([model.ops.asarray(d) for d in gs]); g_cpu, seen_cpu = grads(), np.array(model.attrs["seen"])
        model.attrs["seen"] = seen0
        dev_costs, costs_cuda = [], moves.costs_cuda
        def record(S, G, out_):
            res = costs_cuda(S, G, out_); dev_costs.append(np.array(res)[~moves.is_final(S)]); return res
        moves.costs_cuda = record
        ops_to(sim_ops); loss_dev = device_update(model, moves, docs, S0, G0); ops_to(cpu_ops)
        moves.costs_cuda = costs_cuda
        g_dev, seen_dev = grads(), np.array(model.attrs["seen"])
        model.attrs["seen"] = seen0
        dev_costs = [c for c in dev_costs if len(c)]
        out[key] = {"cost_steps": [len(cpu_costs), len(dev_costs)], "loss": [float(loss_cpu), float(loss_dev)],
                    "costs_equal": len(cpu_costs) == len(dev_costs) and all(np.array_equal(a, b) for a, b in zip(cpu_costs, dev_costs)),
                    "grads_close": sorted(g_cpu) == sorted(g_dev) and all(np.allclose(g_cpu[k], g_dev[k], rtol=1e-4, atol=1e-6) for k in g_cpu),
                    "seen_equal": bool(np.array_equal(seen_cpu, seen_dev)), "n_grads": len(g_cpu)}
    compare_update("update", CudaSimOps())
    # with hidden dropout: both paths draw a mask for every step; give both the same one (every other unit dropped)
    model.attrs["hidden_dropout"] = 0.5
    def every_other(shape, rate):
        if rate != 0.5: return np.ones(shape, "f")      # the tok2vec's layers (at rate 0)
        return np.tile((np.arange(shape[1]) % 2 * 2).astype("f"), (shape[0], 1))
    sim_ops = CudaSimOps()
    cpu_ops.get_dropout_mask = sim_ops.get_dropout_mask = every_other
    compare_update("dropout_update", sim_ops)
    del cpu_ops.get_dropout_mask
    model.attrs["hidden_dropout"] = 0.0
    out["dropout_changes_loss"] = out["update"]["loss"][0] != out["dropout_update"]["loss"][0]
    # pipe.update takes the device path for device ops, oracle cut included (the same cut: the same random draw)
    upd, pipe.cfg["update_with_oracle_cut_size"] = [], 10
    for ops in (cpu_ops, CudaSimOps()):
        model.attrs["seen"] = seen0; ops_to(ops); random.seed(1)
        upd.append(pipe.update(test, losses={})[kind]); grads()
    ops_to(cpu_ops)
    out["update_loss"] = upd
    print(json.dumps(out))
""")


def run_sim(kind: str, path: Path) -> dict:
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", PYTHONPATH=str(ROOT))
    res = subprocess.run([sys.executable, "-c", SIM_CODE, kind, str(path)], env=env, cwd=ROOT, capture_output=True,
                         text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout.strip().splitlines()[-1])

def check(out: dict) -> None:
    assert out["states"] == [], f"the device loop's final states differ from the CPU's in {out['states']}"
    assert out["annotated"] > 20
    for key in ("update", "dropout_update"):
        upd = out[key]
        assert upd["costs_equal"], (key, upd["cost_steps"])
        assert upd["cost_steps"][0] > 10
        assert upd["seen_equal"] and upd["grads_close"] and upd["n_grads"] >= 5, (key, upd)
    assert out["dropout_changes_loss"], out
    for cpu, dev in (out["update"]["loss"], out["dropout_update"]["loss"], out["update_loss"]):
        assert cpu > 0 and abs(cpu - dev) <= 1e-4 * max(1.0, cpu), out


@pytest.mark.skipif(not EWT.exists(), reason="../shared/data is missing")
def test_parser_device_path_matches_cpu_under_simulator():
    check(run_sim("parser", EWT / "en_ewt-ud-dev.conllu"))

@pytest.mark.skipif(not WIKIANN.exists(), reason="../shared/data is missing")
def test_ner_device_path_matches_cpu_under_simulator():
    check(run_sim("ner", WIKIANN / "dev.iob"))


def test_gpu_id_without_a_gpu_fails_with_one_clear_line(tmp_path):
    from thinc.util import has_cupy_gpu
    from nlpnb.cli import run_cli
    from nlpnb.training.loop import setup_device
    if has_cupy_gpu: pytest.skip("this machine has a GPU")
    with pytest.raises(RuntimeError, match=r"Can't use GPU 0: .*--gpu-id -1"): setup_device(0)
    cfg = tmp_path / "config.cfg"
    assert run_cli(["init", "config", str(cfg), "--lang", "en", "--pipeline", "tagger,parser"])[0] == 0
    code, out, err = run_cli(["train", str(cfg), "--gpu-id", "0", "--paths.train", str(tmp_path), "--paths.dev", str(tmp_path)])
    assert code == 1 and "Traceback" not in err
    last = err.strip().splitlines()[-1]     # one line naming the cause and the way out
    assert last.startswith("error: ") and "Can't use GPU 0: " in last and "--gpu-id -1" in last, err


def test_bench_gpu_without_a_gpu_says_so_and_exits_0():
    try:
        import cupy  # noqa: F401
        pytest.skip("cupy is installed: bench_gpu would measure")
    except ImportError: pass
    res = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_gpu.py")], capture_output=True, text=True,
                         timeout=300, cwd=ROOT)
    assert res.returncode == 0 and "no GPU to measure on" in res.stdout and "Traceback" not in res.stderr, res
