"""The quickstart tutorial in a real JupyterLab 4, driven in headless Chromium with Playwright, as a reader runs it:
Run All, the QuickstartConfig and the training monitor render (no "Error displaying widget"), the monitor's table gains
rows and its progress bar moves, and a click on Stop while the cell blocks in `run.wait()` ends training within seconds
with model-last on disk; so does Kernel > Interrupt.

The server runs on 127.0.0.1 on a free port with a random token, in a temporary folder with its own Jupyter config,
data and runtime folders, and is stopped by the test. Skipped (with the reason) without jupyterlab, playwright or a
Chromium (tests/browser.py finds or installs one), or without ../shared/data.

With $NLPNB_SCREENSHOTS set to a folder, the screenshots (quickstart widget, monitor during and after the run, the
report) are written there; that is how nbs/images/quickstart_*.png are made:
    NLPNB_SCREENSHOTS=nbs/images pytest -q tests/test_jupyterlab.py
"""
import json, os, re, secrets, shutil, signal, socket, subprocess, sys, time, urllib.request
from pathlib import Path

import pytest

pytest.importorskip("jupyterlab", reason="jupyterlab is not installed (pip install -e '.[dev]')")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')")

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
TUTORIAL = ROOT / "nbs" / "tutorials" / "00_quickstart.ipynb"
pytestmark = pytest.mark.skipif(not (DATA / "ud_en_ewt").exists(), reason="../shared/data is missing")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-default-apps", "--force-device-scale-factor=1"]
SERVER_START = 60          # seconds for JupyterLab to answer
RUN_LIMIT = 150            # seconds for the notebook's cells up to a trained monitor


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0)); return s.getsockname()[1]


def _replace(source: str, old: str, new: str) -> str:
    assert old in source, f"the quickstart tutorial no longer has {old!r}: update tests/test_jupyterlab.py"
    return source.replace(old, new)


def quickstart_copy(folder: Path) -> Path:
    """The quickstart tutorial's cells up to its training cell and the report, reading the repository's data and
    working in `folder/work`, training long enough (3,000 steps) that Stop has something to stop."""
    nb = json.loads(TUTORIAL.read_text())
    cells, end = [], None
    for i, cell in enumerate(nb["cells"]):
        src = "".join(cell["source"])
        if cell["cell_type"] == "code":
            src = src.replace('Path("../../../shared/data")', f"Path({str(DATA)!r})")
            src = src.replace("Path(tempfile.mkdtemp())", f"Path({str(folder / 'work')!r})")
            if "nlp = run.wait()" in src:
                src, end = _replace(src, '"training.max_steps": 80', '"training.max_steps": 3000'), i
        cells.append({**cell, "source": src, "outputs": [], "execution_count": None} if cell["cell_type"] == "code"
                     else {**cell, "source": src})
    assert end is not None, "the quickstart tutorial has no cell with `nlp = run.wait()`"
    report = next(c for c in cells if c["cell_type"] == "code" and 'report.html").read_text()' in c["source"])
    report = {**report, "source": "from IPython.display import HTML\n" + report["source"]}
    assert any(str(DATA) in c["source"] for c in cells) and any(str(folder / "work") in c["source"] for c in cells)
    path = folder / "quickstart.ipynb"
    path.write_text(json.dumps({**nb, "cells": cells[:end + 1] + [report]}))
    return path


def start_lab(folder: Path, port: int, token: str) -> subprocess.Popen:
    "JupyterLab on 127.0.0.1:`port` serving `folder`, with Jupyter's config, data and runtime folders inside it."
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
           "JUPYTER_CONFIG_DIR": str(folder / ".jupyter"), "JUPYTER_RUNTIME_DIR": str(folder / ".runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(folder / ".settings"), "JUPYTERLAB_WORKSPACES_DIR": str(folder / ".workspaces"),
           "NUMBA_CACHE_DIR": os.environ.get("NUMBA_CACHE_DIR", str(folder / ".numba"))}
    # no news or update checks (no network here), no "Would you like to receive news?" toast over the page; every
    # cell in the page (JupyterLab otherwise leaves cells out of view out of the DOM)
    settings = {"apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
                "notebook-extension/tracker": {"windowingMode": "none"}}
    for name, values in settings.items():
        path = folder / ".settings" / "@jupyterlab" / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True); path.write_text(json.dumps(values))
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
           "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={folder}",
           "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
           "--LabApp.extension_manager=readonly"] + (["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else [])
    log = open(folder / "jupyterlab.log", "w")
    return subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=folder)


def stop_lab(server: subprocess.Popen) -> None:
    "SIGTERM to the server's process group (the server and its kernels), SIGKILL after 10 s."
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        try: os.killpg(server.pid, sig)
        except ProcessLookupError: return
        try: server.wait(wait); return
        except subprocess.TimeoutExpired: pass


def wait_for_lab(url: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.time() + SERVER_START
    while time.time() < deadline:
        assert server.poll() is None, f"JupyterLab exited ({server.returncode}):\n{log.read_text()[-3000:]}"
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200: return
        except OSError: time.sleep(0.3)
    pytest.fail(f"JupyterLab didn't answer within {SERVER_START} s:\n{log.read_text()[-3000:]}")


def shot(locator, name: str, folder: Path, top_only: bool = False) -> None:
    """A screenshot of `locator` as `name`.png in $NLPNB_SCREENSHOTS (if set) and in `folder`; with `top_only`, of
    its part that fits in the window when scrolled to its top (for an output taller than the window)."""
    out = [folder / f"{name}.png"] + ([Path(os.environ["NLPNB_SCREENSHOTS"]) / f"{name}.png"]
                                       if os.environ.get("NLPNB_SCREENSHOTS") else [])
    if not top_only: locator.screenshot(path=str(out[0]))
    else:
        locator.evaluate("e => e.scrollIntoView({block: 'start'})")
        box, window = locator.bounding_box(), locator.page.viewport_size
        height = min(box["height"], window["height"] - box["y"] - 40)      # above JupyterLab's status bar
        locator.page.screenshot(path=str(out[0]), clip={**box, "height": height})
    for extra in out[1:]: extra.parent.mkdir(parents=True, exist_ok=True); shutil.copyfile(out[0], extra)


def test_quickstart_runs_in_jupyterlab_and_stop_ends_training(tmp_path, chromium):
    started = time.time()
    notebook = quickstart_copy(tmp_path)
    port, token = free_port(), secrets.token_hex(16)
    server = start_lab(tmp_path, port, token)
    try:
        wait_for_lab(f"http://127.0.0.1:{port}/api/status?token={token}", server, tmp_path / "jupyterlab.log")
        with sync_api.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 1000})
                page.set_default_timeout(60_000)
                try: drive(page, f"http://127.0.0.1:{port}/lab/tree/{notebook.name}?token={token}", tmp_path)
                except Exception:       # what the page showed, for the failure report
                    page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
                    print(f"JupyterLab test failed: the page is in {tmp_path / 'failure.png'}")
                    prompts = page.locator(".jp-InputPrompt").all_inner_texts()
                    print("prompts:", prompts, "\nlast outputs:", page.locator(".jp-OutputArea").all_inner_texts()[-2:])
                    raise
            finally: browser.close()
    finally:
        stop_lab(server)
    print(f"JupyterLab test: {time.time() - started:.1f} s")


def drive(page, url: str, tmp_path: Path) -> None:
    page.goto(url)
    # the kernel starts without a "Select Kernel" dialog (the notebook names python3) and goes idle
    page.get_by_text(re.compile(r"Python 3 \(ipykernel\) \| Idle")).wait_for()
    page.wait_for_timeout(500)
    assert page.locator(".jp-Dialog").count() == 0, page.locator(".jp-Dialog").inner_text()
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()

    # the QuickstartConfig renders: options, the config text, the saved message
    form = page.locator(".jp-OutputArea-output", has=page.locator("button", has_text="Save config.cfg"))
    form.wait_for()
    page.locator(".jp-OutputArea-output pre", has_text="[components.tok2vec]").first.wait_for()
    form.get_by_text("Saved").wait_for()            # the save cell ran: the message sits above the config text
    assert "Save base_config.cfg" in form.inner_text()
    shot(form, "quickstart_config", tmp_path)

    # the monitor renders; its table gains rows and its progress bar moves while the cell waits in run.wait()
    monitor = page.locator(".jp-OutputArea-output", has=page.locator("button", has_text="Stop"))
    monitor.wait_for(timeout=RUN_LIMIT * 1000)
    bar = monitor.locator(".progress-bar")
    widths, deadline = set(), time.time() + RUN_LIMIT
    while monitor.locator("tr.nlpnb-eval").count() < 3 or len(widths) < 3:
        assert time.time() < deadline, f"the monitor shows {monitor.locator('tr.nlpnb-eval').count()} rows, bar widths {widths}"
        widths.add(bar.evaluate("e => e.style.width"))
        page.wait_for_timeout(100)
    assert monitor.locator("svg.nlpnb-chart").count() >= 2
    assert "------  ------" in monitor.text_content()       # the log accordion holds the console table
    shot(monitor, "quickstart_monitor_training", tmp_path)

    # Stop, clicked while the training cell blocks in run.wait(): training ends within seconds, the next cell runs
    clicked = time.time()
    monitor.locator("button", has_text="Stop").click()
    page.get_by_text(re.compile("Stopped after step")).wait_for(timeout=20_000)
    report = page.locator(".jp-OutputArea-output", has=page.locator("table.nlpnb-evaluations")).last
    page.locator(".jp-OutputArea-output .nlpnb-charts").nth(1).wait_for(timeout=20_000)   # the report cell ran
    took = time.time() - clicked
    assert took < 10, f"training ended {took:.1f} s after the click"
    model_last = tmp_path / "work" / "output" / "model-last"
    assert (model_last / "config.cfg").is_file(), sorted(p.name for p in (tmp_path / "work" / "output").iterdir())
    assert not monitor.locator("button", has_text="Stop").is_visible()        # the button goes away when done
    shot(monitor, "quickstart_monitor_done", tmp_path)
    shot(report, "quickstart_report", tmp_path, top_only=True)
    assert page.get_by_text("Error displaying widget").count() == 0
    import nlpnb
    assert nlpnb.load(model_last).pipe_names == ["tok2vec", "tagger", "parser"]

    # Kernel > Interrupt while the training cell, run again, waits in run.wait(): training stops, the cell says where
    # model-last is, and the traceback doesn't run through threading.py
    train_cell = page.locator(".jp-CodeCell", has_text="nlp = run.wait()")
    train_cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Control+Enter")
    monitor.locator("tr.nlpnb-eval").first.wait_for(timeout=RUN_LIMIT * 1000)
    interrupted = time.time()
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Kernel$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Interrupt Kernel$")).click()
    error = train_cell.locator(".jp-OutputArea-output", has_text="KeyboardInterrupt: training stopped after step")
    error.wait_for(timeout=20_000)
    assert time.time() - interrupted < 10, f"training ended {time.time() - interrupted:.1f} s after the interrupt"
    assert "model-last is saved in" in error.inner_text() and "threading.py" not in error.inner_text()
    assert "Stopped after step" in monitor.inner_text()
    assert nlpnb.load(model_last).pipe_names == ["tok2vec", "tagger", "parser"]
