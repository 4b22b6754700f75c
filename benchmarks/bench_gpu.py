"""The GPU path, nlpnb against spaCy: training and inference words/s of tok2vec + tagger + parser on UD English EWT
and tok2vec + ner on WikiANN, on the GPU (thinc's CupyOps; nlpnb's parser decoding loop and oracle on the device)
and on the CPU, for both libraries, in the same run on the same machine.

    python benchmarks/bench_gpu.py [--spacy-python benchmarks/.venv/bin/python] [--tasks parser,ner] [--epochs 1]
        [--n-train 2000] [--n-dev 1000] [--batch-words 1000] [--threads 1] [--gpu-id 0] [--only nlpnb|spacy]
    python benchmarks/bench_gpu.py --check-ptx

A run needs a CUDA GPU, with cupy in both interpreters (the `cuda` extra: `pip install -e ".[cuda]"`; spaCy's side
needs `cupy-cuda12x` in its own venv). Without a GPU it says so and exits with status 0, measuring nothing.

Each of the four sides (nlpnb on the GPU, nlpnb on the CPU, spaCy on the GPU, spaCy on the CPU) is one process of
`bench_parser.py`'s `run_side`. It builds each library's own `init config --optimize efficiency` pipeline, trains it
with `nlp.update` for `--epochs` passes over the first `--n-train` sentences, scores it on the first `--n-dev` dev
sentences, and times `nlp.pipe` over them (batch 1000, best of 3). A GPU side calls `require_gpu(--gpu-id)` first:
thinc's for nlpnb, `spacy.require_gpu` for spaCy. The CPU sides run with `--threads` threads. Training words/s
count only the time inside `nlp.update`. nlpnb's GPU update ends with its loss read back to the host, so the GPU has
finished when the clock stops. spaCy's may leave work queued that its next host read waits for. Printed per task:
words/s of each side, the accuracy each reached (the GPU must learn as well as the CPU), and the ratios nlpnb GPU /
spaCy GPU, nlpnb GPU / nlpnb CPU and nlpnb GPU / spaCy CPU. Only compare numbers from one run on one machine.
Written to benchmarks/results/bench_gpu.json.

`--check-ptx` needs no GPU. It compiles every CUDA twin of the parser path for sm_80: the arc-eager and BILUO state
kernels and the scoring and gradient kernels of `nlpnb.ml.parser_device`. That checks they type and compile for a real
device, which the CUDA simulator can't. It needs `numba-cuda` with NVIDIA's NVVM and NVRTC libraries: the `cuda` extra
(`numba-cuda[cu12]` brings them), or `pip install numba-cuda nvidia-cuda-nvcc-cu12 nvidia-cuda-nvrtc-cu12`.
"""
import argparse, json, os, subprocess, sys, tempfile, types
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import bench_parser as bp  # noqa: E402  (its data readers and one side's training run)

SIDES = [("nlpnb", "gpu"), ("nlpnb", "cpu"), ("spacy", "gpu"), ("spacy", "cpu")]
SPEEDS = ["train_wps", "infer_wps"]


def gpu_side(lib: str, gpu_id: int, task: str, data: str, out: str, model_dir: str, epochs: int, batch_words: int) -> None:
    "One side on GPU `gpu_id` (-1: the CPU), in this process."
    if gpu_id >= 0:
        try:
            if lib == "nlpnb":
                from thinc.api import require_gpu
                require_gpu(gpu_id)
            else:
                import spacy
                spacy.require_gpu(gpu_id)
        except Exception as e:
            Path(out).write_text(json.dumps({"error": f"{type(e).__name__}: {e}"})); return
    bp.run_side(lib, task, data, out, model_dir, epochs, batch_words)


def have_gpu(gpu_id: int) -> str:
    "Why this interpreter can't use GPU `gpu_id` ('' when it can)."
    try:
        import cupy
        n = cupy.cuda.runtime.getDeviceCount()
    except Exception as e: return f"cupy can't reach a GPU ({type(e).__name__}: {e})"
    return "" if gpu_id < n else f"there are {n} GPUs, so no GPU {gpu_id}"


def ptx_examples() -> dict:
    "(twins module, kernel name) -> example arguments of the parser path's CUDA twins."
    import numpy as np
    from nlpnb.vocab import Vocab
    from nlpnb.tokens.doc import Doc
    from nlpnb.parser.state import init_states, blank_gold
    from nlpnb.parser import arc_eager_kernels as ae, ner_kernels as nk
    from nlpnb.ml import parser_device as pd
    S = init_states([Doc(Vocab(), words=["a", "b", "c"])] * 2)
    G, B, T, nm = blank_gold(len(S.stack)), 2, len(S.stack), 9
    z = lambda dtype, *shape: np.zeros(shape, dtype)
    acts, f32, i32, b8 = z(np.int32, B), np.float32, np.int32, np.bool_
    return {
        (ae, "valid"): (4, S.offset, S.length, S.b0, S.depth, S.stack, S.heads, S.sent_start, z(b8, B, nm)),
        (ae, "apply"): (acts, 4, 0, S.offset, S.b0, S.depth, S.stack, S.heads, S.labels, S.lchild, S.rchild, S.sent_start),
        (ae, "features"): (8, S.offset, S.length, S.tok_offset, S.b0, S.depth, S.stack, S.lchild, S.rchild, z(i32, B, 8)),
        (ae, "costs"): (4, S.offset, S.length, S.b0, S.depth, S.stack, S.heads, G.heads, G.labels, G.sent_start, z(f32, B, nm)),
        (ae, "apply_best"): (z(f32, B, nm), z(b8, nm), 4, 0, S.offset, S.length, S.b0, S.depth, S.stack, S.heads, S.labels,
                             S.lchild, S.rchild, S.sent_start, acts),
        (nk, "valid"): (S.offset, S.length, S.b0, S.ent_label, S.sent_start, S.preset_iob, S.preset_type, z(b8, B, nm)),
        (nk, "apply"): (S.offset, S.b0, S.ent_start, S.ent_label, S.ent_iob, S.ent_type, acts),
        (nk, "features"): (S.length, S.tok_offset, S.b0, S.ent_start, 3, z(i32, B, 3)),
        (nk, "costs"): (S.offset, S.length, S.b0, S.ent_label, S.ent_start, S.sent_start, S.preset_iob, S.preset_type, G.tags,
                        G.neg_start, G.neg_label, z(np.int64, T + B, 3), z(b8, B, nm), z(f32, B, nm)),
        (nk, "apply_best"): (S.offset, S.length, S.b0, S.ent_start, S.ent_label, S.ent_iob, S.ent_type, S.sent_start,
                             S.preset_iob, S.preset_type, z(f32, B, nm), z(b8, nm), z(b8, B, nm), acts),
        (pd, "scores"): (z(f32, T, 8, 4, 2), z(f32, 1, 8, 4, 2), z(f32, 4, 2), z(i32, B, 8), z(f32, 4, nm), z(f32, nm), z(f32, B, nm)),
        (pd, "gold_grad"): (z(f32, B, nm), z(b8, B, nm), z(f32, B, nm), z(b8, B), z(f32, B, nm), z(b8, B, nm)),
    }


def check_ptx() -> int:
    "Compile every twin of `ptx_examples` for sm_80; the number that failed."
    try:
        import numba.cuda.dispatcher as dispatcher
        # a device function asks the current GPU for its compute capability; there is none here, so answer sm_80
        dispatcher.get_current_device = lambda: types.SimpleNamespace(compute_capability=(8, 0))
    except ImportError as e:
        print(f"numba.cuda can't compile here ({e}): pip install -e \".[cuda]\" (numba-cuda[cu12])")
        return 1
    bad = 0
    for (mod, name), args in ptx_examples().items():
        try: print(f"ok    {mod.__name__}.{name}: {len(mod._TWINS.ptx(name, *args)):,} characters of PTX", flush=True)
        except Exception as e:
            bad += 1; print(f"FAIL  {mod.__name__}.{name}: {type(e).__name__}: {str(e)[:2000]}", flush=True)
    print(f"{len(ptx_examples()) - bad} of {len(ptx_examples())} CUDA twins compile for sm_80")
    return bad


def print_table(task: str, res: dict) -> None:
    cols = [f"{lib} {dev}" for lib, dev in SIDES]
    print(f"\n{task}: {bp.DESCRIPTIONS[task]}")
    print(f"{'':24}" + "".join(f"{c:>14}" for c in cols))
    for key in SPEEDS + bp.SCORES[task]:
        row = [res.get(c, {}).get(key) if res.get(c) else None for c in cols]
        print(f"{key:24}" + "".join(f"{'-':>14}" if v is None else f"{v:>14,.0f}" if key in SPEEDS else f"{v:>14.4f}"
                                    for v in row))
    for key in SPEEDS:
        g = (res.get("nlpnb gpu") or {}).get(key)
        for other in ("spacy gpu", "nlpnb cpu", "spacy cpu"):
            o = (res.get(other) or {}).get(key)
            if g and o: print(f"  {key}: nlpnb gpu / {other} = {g / o:.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--spacy-python", default=str(HERE / ".venv" / "bin" / "python"))
    ap.add_argument("--tasks", default="parser,ner")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--n-train", type=int, default=2000)
    ap.add_argument("--n-dev", type=int, default=1000)
    ap.add_argument("--batch-words", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--gpu-id", type=int, default=0)
    ap.add_argument("--only", choices=["nlpnb", "spacy"])
    ap.add_argument("--check-ptx", action="store_true", help="compile the CUDA twins for sm_80 (no GPU needed)")
    ap.add_argument("--side", help=argparse.SUPPRESS)
    ap.add_argument("--side-gpu", type=int, default=-1, help=argparse.SUPPRESS)
    bp.add_worker_arguments(ap, "--model-dir")
    args = ap.parse_args()
    if args.side:
        gpu_side(args.side, args.side_gpu, args.task, args.data, args.out, args.model_dir, args.epochs, args.batch_words); return
    if args.check_ptx: sys.exit(1 if check_ptx() else 0)
    why = have_gpu(args.gpu_id)
    if why:
        print(f"bench_gpu: no GPU to measure on: {why}. It needs a CUDA GPU and cupy (pip install -e \".[cuda]\"). "
              "Nothing measured; --check-ptx compiles the CUDA kernels without a GPU.")
        return
    tasks = [t for t in args.tasks.split(",") if t]
    env = {**os.environ, **{v: str(args.threads) for v in bp.THREAD_VARS}}
    pythons = {"nlpnb": sys.executable, "spacy": args.spacy_python}
    results = {"command": " ".join([Path(sys.executable).name, *sys.argv]), "args": vars(args)}
    with tempfile.TemporaryDirectory() as tmp:
        data_path = Path(tmp) / "data.json"
        data_path.write_text(json.dumps(bp.read_data(tasks, args.n_train, args.n_dev)))
        for task in tasks:
            results[task] = {}
            for lib, dev in SIDES:
                name = f"{lib} {dev}"
                if args.only and lib != args.only: continue
                if not Path(pythons[lib]).exists():
                    print(f"{name}: no interpreter at {pythons[lib]} (pass --spacy-python)"); continue
                out = Path(tmp) / f"{lib}_{dev}_{task}.json"
                cmd = [pythons[lib], str(Path(__file__).resolve()), "--side", lib, "--side-gpu",
                       str(args.gpu_id if dev == "gpu" else -1), "--task", task, "--data", str(data_path), "--out", str(out),
                       "--model-dir", str(Path(tmp) / f"{lib}_{dev}_{task}_model"), "--epochs", str(args.epochs),
                       "--batch-words", str(args.batch_words)]
                print(f"{name} {task}: training", flush=True)
                proc = subprocess.run(cmd, env=env, cwd=str(ROOT))
                res = json.loads(out.read_text()) if proc.returncode == 0 and out.exists() else {"error": f"exit status {proc.returncode}"}
                if "error" in res: print(f"  {name} {task}: failed: {res['error']}", flush=True)
                results[task][name] = None if "error" in res else res
    for task in tasks: print_table(task, results[task])
    path = HERE / "results" / "bench_gpu.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(results, indent=1))
    print(f"\nwritten to {path.relative_to(ROOT)}")


if __name__ == "__main__": main()
