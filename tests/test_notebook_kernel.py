"""`nlpnb.train` in a real Jupyter kernel: the cell returns while training goes on, the monitor is displayed, and a
click on its Stop button, sent as a frontend sends it, reaches the kernel and ends training cleanly."""
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


@pytest.fixture
def kernel():
    km, kc = jupyter_client.manager.start_new_kernel(kernel_name="python3")
    try: yield kc
    finally:
        kc.stop_channels(); km.shutdown_kernel(now=True)


def test_stop_button_click_reaches_the_kernel_and_stops_training(kernel, tmp_path):
    kc = kernel
    setup = execute(kc, f"""
        import itertools, nlpnb
        from pathlib import Path
        from nlpnb.init_config import init_config
        from nlpnb.tokens import DocBin
        from nlpnb.training.converters import read_conllu
        tmp = Path({str(tmp_path)!r})
        for split, n in (("train", 30), ("dev", 5)):
            docs = list(itertools.islice(read_conllu(Path({str(DATA)!r}) / f"en_ewt-ud-{{split}}.conllu", n_sents=10), n))
            DocBin(docs=docs).to_disk(tmp / f"{{split}}.nlpnb")
        overrides = {{"paths.train": str(tmp / "train.nlpnb"), "paths.dev": str(tmp / "dev.nlpnb"),
                     "training.max_steps": 5000, "training.eval_frequency": 5, "training.patience": 0}}
        """)
    assert setup["error"] is None, setup["error"]
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
    assert stopped == "True" and 6 <= int(steps) < 5000 and int(n_records) >= 2, finished["stdout"]   # evaluated at 0 and 5
    assert saved.strip() == "['.nlpnb-train.lock', 'model-best', 'model-last', 'report.html']"
    assert "Stopped after step" in value(kc, "run.monitor.status.value")
