"""`nlpnb.train` in a real Jupyter kernel: the cell returns while training goes on, the monitor is displayed, and a
click on its Stop button, sent as a frontend sends it, reaches the kernel and ends training cleanly, also while a cell
blocks in `run.wait()`; Kernel > Interrupt during `run.wait()` stops training with model-last saved."""
import json, textwrap, time
from pathlib import Path

import pytest

jupyter_client = pytest.importorskip("jupyter_client")
DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ud_en_ewt"
pytestmark = pytest.mark.skipif(not DATA.exists(), reason="../shared/data is missing")


def execute(kc, code: str, timeout: float = 120) -> dict:
    "Run `code` in the kernel; its stdout, display data, error and how long the cell took to finish."
    start = time.time()
    msg_id = kc.execute(textwrap.dedent(code))
    out = {"stdout": "", "displays": [], "error": None}
    while True:
        msg = kc.get_iopub_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") != msg_id: continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream": out["stdout"] += content["text"]
        elif kind in ("display_data", "execute_result"): out["displays"].append(content["data"])
        elif kind == "error": out["error"] = "\n".join(content["traceback"])
        elif kind == "status" and content["execution_state"] == "idle": break
    out["seconds"] = time.time() - start
    return out


def value(kc, expr: str):
    "The value of a JSON-able expression in the kernel."
    res = execute(kc, f"import json as _json; print(_json.dumps({expr}))")
    assert res["error"] is None, res["error"]
    return json.loads(res["stdout"].strip().splitlines()[-1])


SETUP = """
    import itertools, nlpnb
    from pathlib import Path
    from nlpnb.init_config import init_config
    from nlpnb.tokens import DocBin
    from nlpnb.training.converters import read_conllu
    tmp = Path({tmp!r})
    for split, n in (("train", 30), ("dev", 5)):
        docs = list(itertools.islice(read_conllu(Path({data!r}) / f"en_ewt-ud-{{split}}.conllu", n_sents=10), n))
        DocBin(docs=docs).to_disk(tmp / f"{{split}}.nlpnb")
    overrides = {{"paths.train": str(tmp / "train.nlpnb"), "paths.dev": str(tmp / "dev.nlpnb"),
                 "training.max_steps": 1000, "training.eval_frequency": 5, "training.patience": 0}}
    """
# the tutorial's shape: training started and waited for in one cell
TRAIN_AND_WAIT = 'run = nlpnb.train(init_config("en", ["tagger"]), tmp / {out!r}, overrides)\nnlp = run.wait()'


def start_and_watch(kc, code: str, n_evals: int, timeout: float = 180) -> tuple:
    """Send `code` without waiting for it; read the kernel's messages until the monitor's table shows `n_evals`
    evaluations. Returns the cell's msg_id and the Stop button's comm id (from the widgets' comm_open messages)."""
    msg_id, stop_id, deadline = kc.execute(code), None, time.time() + timeout
    while time.time() < deadline:
        msg = kc.get_iopub_msg(timeout=timeout)
        kind, content = msg["msg_type"], msg["content"]
        state = (content.get("data") or {}).get("state") or {}
        if kind == "comm_open" and state.get("_model_name") == "ButtonModel" and state.get("description") == "Stop":
            stop_id = content["comm_id"]
        if kind == "error": pytest.fail("\n".join(content["traceback"]))
        if str(state.get("value", "")).count('class="nlpnb-eval"') >= n_evals: return msg_id, stop_id
    pytest.fail(f"no {n_evals} evaluations in the monitor after {timeout} s")


def finish(kc, msg_id: str, timeout: float) -> dict:
    "The rest of the cell `msg_id`: its error (ename, evalue, traceback) if any, and how long it took to end."
    start, error = time.time(), None
    while True:
        msg = kc.get_iopub_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") != msg_id: continue
        if msg["msg_type"] == "error": error = msg["content"]
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return {"error": error, "seconds": time.time() - start}


@pytest.fixture(scope="module")
def trained_kernel(tmp_path_factory):
    "A kernel with a small EWT train/dev set written and nlpnb imported."
    tmp = tmp_path_factory.mktemp("kernel")
    km, kc = jupyter_client.manager.start_new_kernel(kernel_name="python3")
    try:
        res = execute(kc, SETUP.format(tmp=str(tmp), data=str(DATA)))
        assert res["error"] is None, res["error"]
        yield km, kc, tmp
    finally:
        kc.stop_channels(); km.shutdown_kernel(now=True)


def test_stop_click_while_the_cell_waits(trained_kernel):
    km, kc, tmp = trained_kernel
    msg_id, stop_id = start_and_watch(kc, TRAIN_AND_WAIT.format(out="stop"), n_evals=2)
    assert stop_id is not None
    next_id = kc.execute("after_wait = run.done")     # Run All: the next cell is queued while wait() blocks
    kc.session.send(kc.shell_channel.socket, "comm_msg",
                    {"comm_id": stop_id, "data": {"method": "custom", "content": {"event": "click"}}})
    done = finish(kc, msg_id, timeout=120)
    assert done["error"] is None, done["error"]
    assert done["seconds"] < 15, done["seconds"]        # heard during wait(), not after 1000 steps
    assert finish(kc, next_id, timeout=30)["error"] is None
    assert value(kc, "[after_wait, run.stopped, run.steps < 1000, nlp is run.nlp]") == [True, True, True, True]
    assert "Stopped after step" in value(kc, "run.monitor.status.value")
    assert value(kc, 'nlpnb.load(tmp / "stop" / "model-last").pipe_names') == ["tok2vec", "tagger"]


def test_interrupt_during_wait_stops_training(trained_kernel):
    km, kc, tmp = trained_kernel
    msg_id, _ = start_and_watch(kc, TRAIN_AND_WAIT.format(out="interrupt"), n_evals=1)
    km.interrupt_kernel()
    done = finish(kc, msg_id, timeout=120)
    assert done["seconds"] < 15, done["seconds"]
    err = done["error"]
    assert err is not None and err["ename"] == "KeyboardInterrupt", err
    assert "training stopped after step" in err["evalue"] and "model-last is saved" in err["evalue"], err
    assert not any("threading.py" in line for line in err["traceback"]), err["traceback"]
    assert value(kc, "[run.done, run.stopped, run._thread.is_alive()]") == [True, True, False]
    steps = value(kc, "run.steps")
    time.sleep(1)
    assert value(kc, "run.steps") == steps                # nothing trains on
    assert value(kc, 'nlpnb.load(tmp / "interrupt" / "model-last").pipe_names') == ["tok2vec", "tagger"]


def test_stop_button_click_reaches_the_kernel_and_stops_training(trained_kernel):
    km, kc, tmp_path = trained_kernel
    started = execute(kc, 'run = nlpnb.train(init_config("en", ["tagger"]), tmp / "out", overrides)')
    assert started["error"] is None, started["error"]
    # the cell came back at once (training runs in a thread) and showed the monitor widget
    assert started["seconds"] < 10, started["seconds"]
    assert any("application/vnd.jupyter.widget-view+json" in d for d in started["displays"]), started["displays"]
    deadline = time.time() + 180
    while value(kc, "len(run.records)") < 2:        # the kernel answers while training goes on
        assert time.time() < deadline and not value(kc, "run.done"), execute(kc, "print(run, run.error)")["stdout"]
        time.sleep(0.5)
    model_id = value(kc, "run.monitor.stop_button.model_id")
    # what the browser sends when the Stop button is clicked
    kc.session.send(kc.shell_channel.socket, "comm_msg",
                    {"comm_id": model_id, "data": {"method": "custom", "content": {"event": "click"}}})
    finished = execute(kc, """
        nlp = run.wait(timeout=120)
        print(run.stopped, run.steps, len(run.records), sorted(p.name for p in (tmp / "out").iterdir()))
        """)
    assert finished["error"] is None, finished["error"]
    stopped, steps, n_records, saved = finished["stdout"].split(" ", 3)
    assert stopped == "True" and 6 <= int(steps) < 1000 and int(n_records) >= 2, finished["stdout"]   # evaluated at 0 and 5
    assert saved.strip() == "['.nlpnb-train.lock', 'model-best', 'model-last', 'report.html']"
    assert "Stopped after step" in value(kc, "run.monitor.status.value")
