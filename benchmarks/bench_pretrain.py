"""Pretraining (characters objective) then a tagger, nlpnb against spaCy, each through its own command line.

    .venv/bin/python benchmarks/bench_pretrain.py [--spacy-python benchmarks/.venv/bin/python] [--n-train 1000]
        [--pretrain-epochs 2] [--max-steps 600] [--raw-sents 0]

A long run (minutes; not a test). For each library: convert the first `--n-train` EWT train sentences and all of EWT dev,
write the starter config of `init config --pipeline tagger --pretraining` (the same shapes on both sides: a width-96,
depth-4 tok2vec with NORM/PREFIX/SUFFIX/SHAPE tables, listened to by the tagger), `pretrain` on the raw text of EWT
train (`--raw-sents`, 0 for all 12,544 sentences) for `--pretrain-epochs` epochs, then `train` the tagger for
`--max-steps` steps without and with `--paths.init_tok2vec` pointing at the last epoch's weights, and `evaluate`
model-best on EWT dev. Printed: pretraining words/s and wall time, and dev tag_acc without and with pretraining, per
library. Also written to benchmarks/results/bench_pretrain.json. Threads are limited to 1 on both sides.
"""
import argparse, json, os, re, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "ud_en_ewt"
THREADS = {k: "1" for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")}

def run(python: str, module: str, *args) -> subprocess.CompletedProcess:
    res = subprocess.run([python, "-m", module, *map(str, args)], capture_output=True, text=True,
                         env={**os.environ, **THREADS, "NO_COLOR": "1"}, cwd=ROOT)
    if res.returncode != 0: sys.exit(f"{module} {' '.join(map(str, args))} failed:\n{res.stdout[-2000:]}\n{res.stderr[-3000:]}")
    return res

def conllu_slice(src: Path, dst: Path, n: int) -> None:
    blocks = [b for b in src.read_text(encoding="utf8").split("\n\n") if b.strip()]
    dst.write_text("\n\n".join(blocks[:n] if n else blocks) + "\n\n", encoding="utf8")

def raw_text(dst: Path, n: int) -> int:
    texts = [l[len("# text = "):] for l in (DATA / "en_ewt-ud-train.conllu").read_text(encoding="utf8").splitlines()
             if l.startswith("# text = ")]
    texts = texts[:n] if n else texts
    dst.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf8")
    return len(texts)

def side(lib: str, python: str, tmp: Path, args) -> dict:
    "Pretrain, train twice, evaluate twice, for one library."
    module, ext = ("nlpnb", "nlpnb") if lib == "nlpnb" else ("spacy", "spacy")
    work = tmp / lib; work.mkdir()
    for split in ("train", "dev"): run(python, module, "convert", tmp / f"{split}.conllu", work, "-n", "10")
    train, dev = work / f"train.{ext}", work / f"dev.{ext}"
    run(python, module, "init", "config", work / "config.cfg", "--lang", "en", "--pipeline", "tagger", "--pretraining")
    t0 = time.perf_counter()
    pre = run(python, module, "pretrain", work / "config.cfg", work / "pretrain", "--paths.raw_text", tmp / "raw.jsonl",
              "--pretraining.max_epochs", args.pretrain_epochs)
    pretrain_s = time.perf_counter() - t0
    rows = [l.split() for l in pre.stdout.splitlines() if re.match(r"^\s*\d+\s+\d+", l)]
    weights = work / "pretrain" / f"model{args.pretrain_epochs - 1}.bin"
    out = {"pretrain_seconds": round(pretrain_s, 1), "pretrain_wps": [int(r[-1]) for r in rows],
           "pretrain_loss_rows": [float(r[3]) for r in rows]}
    for name, extra in (("no_transfer", []), ("pretrained", ["--paths.init_tok2vec", weights])):
        t0 = time.perf_counter()
        run(python, module, "train", work / "config.cfg", "--output", work / name, "--paths.train", train, "--paths.dev", dev,
            "--training.max_steps", args.max_steps, "--training.eval_frequency", max(args.max_steps // 4, 1), *extra)
        run(python, module, "evaluate", work / name / "model-best", dev, "--output", work / f"{name}.json")
        out[name] = {"tag_acc": json.loads((work / f"{name}.json").read_text())["tag_acc"],
                     "train_seconds": round(time.perf_counter() - t0, 1)}
    return out

def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--spacy-python", default=str(ROOT / "benchmarks" / ".venv" / "bin" / "python"))
    p.add_argument("--n-train", type=int, default=1000)
    p.add_argument("--pretrain-epochs", type=int, default=2)
    p.add_argument("--max-steps", type=int, default=600)
    p.add_argument("--raw-sents", type=int, default=0)
    p.add_argument("--libs", default="nlpnb,spacy")
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_pretrain_"))
    conllu_slice(DATA / "en_ewt-ud-train.conllu", tmp / "train.conllu", args.n_train)
    conllu_slice(DATA / "en_ewt-ud-dev.conllu", tmp / "dev.conllu", 0)
    n_raw = raw_text(tmp / "raw.jsonl", args.raw_sents)
    results = {"settings": {**vars(args), "raw_sentences": n_raw}}
    for lib in args.libs.split(","):
        python = sys.executable if lib == "nlpnb" else args.spacy_python
        results[lib] = side(lib, python, tmp, args)
        print(lib, json.dumps(results[lib]), flush=True)
    out = ROOT / "benchmarks" / "results" / "bench_pretrain.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"\n{'':8}{'pretrain s':>12}{'no transfer':>14}{'pretrained':>12}")
    for lib in args.libs.split(","):
        r = results[lib]
        print(f"{lib:8}{r['pretrain_seconds']:>12}{r['no_transfer']['tag_acc']:>14.4f}{r['pretrained']['tag_acc']:>12.4f}")

if __name__ == "__main__":
    main()
