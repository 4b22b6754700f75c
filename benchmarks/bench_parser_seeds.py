"""The seed spread of `bench_parser.py`: one run per seed, then each score after each epoch as the mean and standard
deviation over the seeds, nlpnb beside spaCy, and their difference.

    .venv/bin/python benchmarks/bench_parser_seeds.py --seeds 0,1,2 [any bench_parser.py option but --seed/--json]
    .venv/bin/python benchmarks/bench_parser_seeds.py --seeds 0,1,2 --tasks parser --group 10 --epochs 5
    .venv/bin/python benchmarks/bench_parser_seeds.py --seeds 0,1,2 --tasks parser --group 10 --epochs 5 \
        --spacy-json-dir benchmarks/results/bench_parser_seeds_spacy

spaCy's side honours `--seed` (its initial weights, dropout masks and shuffling change with it) and gives the same
scores every time for one seed (checked: two runs of `--tasks parser --group 10 --n-train 300 --n-dev 100 --epochs 2
--seed 1 --only spacy` agree in every printed digit). So spaCy's side need not be trained again while nlpnb changes:
`--spacy-json-dir DIR` takes each seed's spaCy side from DIR/seedN.json (written by an earlier run of this script,
for example with `--only spacy --out-dir DIR`) when that run had the same training options, and trains only nlpnb's
side (`--only nlpnb`); a seed without a matching file there is run on both sides as usual. `--stored` trains
nothing and summarizes the runs already in `--out-dir` (the two sides can then be trained at different times:
`--only nlpnb --out-dir A`, `--only spacy --out-dir B`, then `--stored --out-dir A --spacy-json-dir B`).

One seed moves nlpnb's EWT dev UAS by up to a point after epoch 1 and a quarter of a point after epoch 5, as much as
the gaps the accuracy goals are about: compare means over three or more seeds, not single runs. Each seed's full
results go to benchmarks/results/bench_parser_seeds/seedN.json; the summary to benchmarks/results/bench_parser_seeds.json.
A long run (one bench_parser.py run per seed), not a test.
"""
import argparse, json, statistics, subprocess, sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bench_parser  # noqa: E402  (its option parser, to compare a stored run's options)
OUT = HERE / "results" / "bench_parser_seeds"
# bench_parser options that must agree for a stored spaCy side to stand in for this run's
SAME = ("tasks", "epochs", "batch_words", "threads", "n_train", "n_dev", "group", "optimize", "seed")
NOT_SCORES = {"train_s", "train_cpu_s", "train_wps", "updates", "eval_s"}   # an epoch's entry: the rest are dev scores

def epoch_scores(res: dict) -> dict:
    "`{(score, epoch): value}` of one library's side of one task."
    return {(k, i + 1): v for i, e in enumerate(res["epochs"]) for k, v in e.items()
            if k not in NOT_SCORES and isinstance(v, (int, float))}

def summarize(runs: list) -> dict:
    "`{task: {lib: {'score after epoch N': (mean, sd, n)}}}` over the seeds' results."
    out: dict = {}
    for task in [t for t in runs[0] if isinstance(runs[0][t], dict) and t not in ("args",)]:
        for lib in ("nlpnb", "spacy"):
            sides = [r[task].get(lib) for r in runs if isinstance(r.get(task), dict) and r[task].get(lib)]
            if not sides: continue
            values: dict = {}
            for side in sides:
                for key, v in epoch_scores(side).items(): values.setdefault(key, []).append(v)
            out.setdefault(task, {})[lib] = {f"{k} after epoch {e}": (statistics.mean(v), statistics.pstdev(v), len(v))
                                             for (k, e), v in sorted(values.items(), key=lambda kv: (kv[0][1], kv[0][0]))}
    return out

def print_summary(summary: dict) -> None:
    for task, libs in summary.items():
        print(f"\n{task}: mean ± sd over seeds (n)")
        print(f"{'':34}{'nlpnb':>20}{'spaCy':>20}{'difference':>12}")
        for key, (m, sd, n) in libs.get("nlpnb", {}).items():
            theirs = libs.get("spacy", {}).get(key)
            right = f"{theirs[0]:9.4f} ± {theirs[1]:.4f}" if theirs else "-"
            diff = f"{m - theirs[0]:+12.4f}" if theirs else ""
            print(f"{key:34}{m:9.4f} ± {sd:.4f} ({n}){right:>20}{diff}")

def stored_spacy(directory: Path, seed: int, args: dict):
    "The per-task spaCy sides of DIR/seedN.json if that run had the same training options as `args`, else None."
    path = directory / f"seed{seed}.json"
    if not path.exists(): return None
    old = json.loads(path.read_text())
    if any(old["args"].get(k) != args.get(k) for k in SAME): return None
    tasks = [t.strip() for t in args["tasks"].split(",") if t.strip()]
    sides = {t: (old.get(t) or {}).get("spacy") for t in tasks}
    return sides if all(sides.values()) else None

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", default="0,1,2", help="comma-separated seeds, one bench_parser.py run each")
    ap.add_argument("--out-dir", default=str(OUT), help="where each seed's results go (seedN.json)")
    ap.add_argument("--spacy-json-dir", help="take spaCy's side from DIR/seedN.json where it matches (see above)")
    ap.add_argument("--stored", action="store_true",
                    help="train nothing: summarize the runs already in --out-dir (with --spacy-json-dir's spaCy sides)")
    args, rest = ap.parse_known_args()
    if any(a.split("=")[0] in ("--seed", "--json") for a in rest): ap.error("--seed and --json are set per run here")
    out_dir = Path(args.out_dir); out_dir.mkdir(parents=True, exist_ok=True)
    runs = []
    for seed in [int(s) for s in args.seeds.split(",") if s.strip()]:
        path = out_dir / f"seed{seed}.json"
        cmd = [sys.executable, str(HERE / "bench_parser.py"), *rest, "--seed", str(seed), "--json", str(path)]
        stored = None
        if args.spacy_json_dir:   # the options as bench_parser.py parses them, to compare with the stored run's
            parsed = vars(bench_parser.parser().parse_args([*rest, "--seed", str(seed)]))
            stored = stored_spacy(Path(args.spacy_json_dir), seed, parsed)
            if stored is not None and "--only" not in rest: cmd[2:2] = ["--only", "nlpnb"]
        print(f"seed {seed}: {' '.join(cmd[1:])}" + (f" (spaCy's side from {args.spacy_json_dir})" if stored else "")
              + (" (stored)" if args.stored else ""), flush=True)
        if not args.stored and subprocess.run(cmd).returncode != 0: sys.exit(f"seed {seed}: bench_parser.py failed")
        run = json.loads(path.read_text())
        if stored is not None:
            for task, side in stored.items(): run[task]["spacy"] = side
            path.write_text(json.dumps(run, indent=1))
        runs.append(run)
    summary = summarize(runs)
    print_summary(summary)
    (HERE / "results").mkdir(exist_ok=True)   # a fresh clone has no results folder yet
    (HERE / "results" / "bench_parser_seeds.json").write_text(json.dumps({"seeds": args.seeds, "argv": rest, "summary": summary}, indent=1))

if __name__ == "__main__": main()
