"""When does transfer learning help? Static vectors and pretraining, nlpnb against spaCy, each through its own command line.

    python benchmarks/bench_transfer.py --spacy-python benchmarks/.venv/bin/python [--tasks tagparse,ner]
        [--settings none,vectors,pt_chars,pt_vectors,vectors_pt_chars] [--max-steps 600] [--pretrain-epochs 1]
        [--raw-sents 0] [--n-ewt 1000] [--n-wikiann 2000] [--wikiann-dev 2000] [--parallel]

Needs gensim in the project venv (`pip install gensim`; a benchmark dependency, not a test one). A long run (minutes).

1. Raw text: EWT train (`# text`), WikiANN train (tokens joined by spaces) and SST-2 train (the phrases), shuffled with
   seed 0 into one JSONL file (`--raw-sents` keeps the first N lines for pretraining, 0: all).
2. Vectors: gensim word2vec (100 dims, window 5, min_count 2, 5 epochs, skip-gram, seed 0, 2 workers) on the
   corpora's own tokens (EWT FORM column, WikiANN tokens, SST-2 split on whitespace), written in word2vec text format.
   The one file is read by both libraries' `init vectors` (timed: the whole command, interpreter start included).
3. Data, converted once with `nlpnb convert` and read by both sides (a DocBin serves both): the first `--n-ewt` EWT
   train sentences and all of EWT dev (Docs of 10 sentences); the first `--n-wikiann` WikiANN train sentences and the
   first `--wikiann-dev` WikiANN dev sentences (one sentence per Doc).
4. Per library: `init config --pipeline tagger,parser --pretraining` and `--pipeline ner --pretraining` (each library's
   efficiency starter: width-96, depth-4 tok2vec with NORM/PREFIX/SUFFIX/SHAPE tables, listened to by the components).
   Static vectors: `--components.tok2vec.model.embed.include_static_vectors true --paths.vectors VECTORS_PIPELINE`.
   Three `pretrain` runs on the raw text, `--pretrain-epochs` epochs each, with the tagger+parser config (the tok2vec
   is the same block in the ner config, so the weights serve both tasks): characters objective; vectors objective
   (`PretrainVectors.v1`, cosine; the tok2vec itself without static vectors); characters objective with static vectors
   in the tok2vec. Then `train` (`--training.max_steps`, seed 0, dev scored every max_steps/4 steps) for each
   task x setting, and `evaluate` model-best on the dev set.
Settings: none; vectors (static vectors); pt_chars (init_tok2vec from the characters objective); pt_vectors (from the
vectors objective); vectors_pt_chars (static vectors + init_tok2vec from characters pretraining with them).
Threads are limited to 1 per process. `--parallel` runs the two libraries at the same time (2 processes); the scores do
not depend on it, the timings do. Printed: one table (rows = settings, columns = nlpnb, spaCy and nlpnb - spaCy per
score) per task, and the `init vectors` and `pretrain` times. Written to benchmarks/results/bench_transfer.json.
"""
import argparse, json, os, random, re, shutil, subprocess, sys, tempfile, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
EWT, WIKIANN, SST2 = DATA / "ud_en_ewt", DATA / "wikiann_en", DATA / "sst2"
THREADS = {k: "1" for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")}
SETTINGS = {"none": "no transfer", "vectors": "static vectors", "pt_chars": "pretraining (characters)",
            "pt_vectors": "pretraining (vectors objective)", "vectors_pt_chars": "static vectors + pretraining (characters)"}
TASKS = {"tagparse": ("tagger,parser", ["tag_acc", "dep_uas", "dep_las"]), "ner": ("ner", ["ents_f"])}
PRETRAIN_FOR = {"pt_chars": "chars", "pt_vectors": "vectors_objective", "vectors_pt_chars": "chars_static"}

def run(python: str, module: str, *args) -> subprocess.CompletedProcess:
    res = subprocess.run([python, "-m", module, *map(str, args)], capture_output=True, text=True,
                         env={**os.environ, **THREADS, "NO_COLOR": "1"}, cwd=ROOT)
    if res.returncode != 0: sys.exit(f"{module} {' '.join(map(str, args))} failed:\n{res.stdout[-2000:]}\n{res.stderr[-3000:]}")
    return res

def blocks(path: Path, n: int = 0) -> list:
    "The first `n` (0: all) blank-line-separated blocks of a CoNLL-U or IOB file."
    bs = [b for b in path.read_text(encoding="utf8").split("\n\n") if b.strip()]
    return bs[:n] if n else bs

def write_blocks(bs: list, dst: Path) -> None: dst.write_text("\n\n".join(bs) + "\n\n", encoding="utf8")

def raw_corpora() -> tuple:
    "(texts, token lists) of EWT train, WikiANN train and SST-2 train."
    texts, tokens = [], []
    for b in blocks(EWT / "en_ewt-ud-train.conllu"):
        lines = b.splitlines()
        texts += [l[len("# text = "):] for l in lines if l.startswith("# text = ")]
        tokens.append([l.split("\t")[1] for l in lines if l and not l.startswith("#") and re.match(r"^\d+\t", l)])
    for b in blocks(WIKIANN / "train.iob"):
        words = [l.split("\t")[0].split(":", 1)[-1] for l in b.splitlines() if l.strip()]
        texts.append(" ".join(words)); tokens.append(words)
    for line in (SST2 / "train.tsv").read_text(encoding="utf8").splitlines()[1:]:
        text = line.rsplit("\t", 1)[0].strip()
        if text: texts.append(text); tokens.append(text.split())
    return texts, tokens

def train_word2vec(tokens: list, dst: Path, dim: int, epochs: int) -> dict:
    from gensim.models import Word2Vec
    t0 = time.perf_counter()
    model = Word2Vec(tokens, vector_size=dim, window=5, min_count=2, sg=1, epochs=epochs, workers=2, seed=0)
    model.wv.save_word2vec_format(str(dst), binary=False)
    return {"rows": len(model.wv), "dim": dim, "epochs": epochs, "seconds": round(time.perf_counter() - t0, 1)}

def prepare(tmp: Path, args) -> dict:
    "Raw text, vectors file and the shared DocBins (both extensions)."
    texts, tokens = raw_corpora()
    random.Random(0).shuffle(texts)
    texts = texts[:args.raw_sents] if args.raw_sents else texts
    (tmp / "raw.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf8")
    info = {"raw_lines": len(texts), "raw_words": sum(len(t.split()) for t in texts), "w2v_sentences": len(tokens),
            "w2v_tokens": sum(map(len, tokens))}
    vec = Path(args.vectors_file) if args.vectors_file else tmp / "vectors.txt"
    if not args.vectors_file: info["word2vec"] = train_word2vec(tokens, vec, args.dim, args.w2v_epochs)
    info["vectors_file"] = str(vec)
    print("prepared", json.dumps(info), flush=True)
    data = tmp / "data"; data.mkdir()
    write_blocks(blocks(EWT / "en_ewt-ud-train.conllu", args.n_ewt), data / "ewt_train.conllu")
    write_blocks(blocks(EWT / "en_ewt-ud-dev.conllu"), data / "ewt_dev.conllu")
    write_blocks(blocks(WIKIANN / "train.iob", args.n_wikiann), data / "wiki_train.iob")
    write_blocks(blocks(WIKIANN / "dev.iob", args.wikiann_dev), data / "wiki_dev.iob")
    for name, n in (("ewt_train", 10), ("ewt_dev", 10), ("wiki_train", 1), ("wiki_dev", 1)):
        src = data / (name + (".conllu" if name.startswith("ewt") else ".iob"))
        run(sys.executable, "nlpnb", "convert", src, data, "-n", n)
        shutil.copy(data / f"{name}.nlpnb", data / f"{name}.spacy")
    return info

def set_objective(cfg: Path, dst: Path, lib: str) -> None:
    "A copy of `cfg` whose [pretraining.objective] is the vectors objective."
    text = cfg.read_text(encoding="utf8")
    block = (f'[pretraining.objective]\n@architectures = "{lib}.PretrainVectors.v1"\nmaxout_pieces = 3\n'
             'hidden_size = 300\nloss = "cosine"\n\n')
    new, n = re.subn(r"\[pretraining\.objective\]\n.*?(\n\n|\Z)", block, text, flags=re.S)
    if n != 1: sys.exit(f"no [pretraining.objective] block in {cfg}")
    dst.write_text(new, encoding="utf8")

def side(lib: str, python: str, tmp: Path, vec_file: Path, args) -> dict:
    "init vectors, pretrain (3 objectives), then train + evaluate every task x setting, for one library."
    module, ext = lib, lib
    work = tmp / lib; work.mkdir()
    out = {}
    def log(*a): print(f"[{lib} {time.strftime('%H:%M:%S')}]", *a, flush=True)
    t0 = time.perf_counter()
    run(python, module, "init", "vectors", "en", vec_file, work / "vectors")
    out["init_vectors_seconds"] = round(time.perf_counter() - t0, 2)
    log("init vectors", out["init_vectors_seconds"], "s")
    static = ["--components.tok2vec.model.embed.include_static_vectors", "true", "--paths.vectors", work / "vectors"]
    for task, (pipeline, _) in TASKS.items():
        run(python, module, "init", "config", work / f"{task}.cfg", "--lang", "en", "--pipeline", pipeline, "--pretraining",
            *(["--force"] if lib == "spacy" else []))
    set_objective(work / "tagparse.cfg", work / "tagparse_vecobj.cfg", lib)
    needed = {PRETRAIN_FOR[s] for s in args.settings if s in PRETRAIN_FOR}
    pre_runs = {"chars": (work / "tagparse.cfg", []), "vectors_objective": (work / "tagparse_vecobj.cfg", static[2:]),
                "chars_static": (work / "tagparse.cfg", static)}
    weights, out["pretrain"] = {}, {}
    for name, (cfg, extra) in pre_runs.items():
        if name not in needed: continue
        t0 = time.perf_counter()
        res = run(python, module, "pretrain", cfg, work / f"pretrain_{name}", "--paths.raw_text", tmp / "raw.jsonl",
                  "--pretraining.max_epochs", args.pretrain_epochs, *extra)
        rows = [l.split() for l in res.stdout.splitlines() if re.match(r"^\s*\d+\s+\d+", l)]
        out["pretrain"][name] = {"seconds": round(time.perf_counter() - t0, 1), "last_row": rows[-1] if rows else None}
        weights[name] = work / f"pretrain_{name}" / f"model{args.pretrain_epochs - 1}.bin"
        log("pretrain", name, json.dumps(out["pretrain"][name]))
    data = tmp / "data"
    for task in args.tasks:
        scores_of = TASKS[task][1]
        train, dev = (data / f"ewt_train.{ext}", data / f"ewt_dev.{ext}") if task == "tagparse" else \
                     (data / f"wiki_train.{ext}", data / f"wiki_dev.{ext}")
        out[task] = {}
        for s in args.settings:
            extra = (static if s in ("vectors", "vectors_pt_chars") else []) + \
                    (["--paths.init_tok2vec", weights[PRETRAIN_FOR[s]]] if s in PRETRAIN_FOR else [])
            t0 = time.perf_counter()
            dst = work / f"{task}_{s}"
            run(python, module, "train", work / f"{task}.cfg", "--output", dst, "--paths.train", train, "--paths.dev", dev,
                "--training.max_steps", args.max_steps, "--training.eval_frequency", max(args.max_steps // 4, 1),
                "--training.seed", 0, *extra)
            run(python, module, "evaluate", dst / "model-best", dev, "--output", work / f"{task}_{s}.json")
            scores = json.loads((work / f"{task}_{s}.json").read_text())
            out[task][s] = {**{k: scores.get(k) for k in scores_of}, "seconds": round(time.perf_counter() - t0, 1)}
            log(task, s, json.dumps(out[task][s]))
    return out

def print_tables(results: dict, args) -> None:
    libs = [l for l in ("nlpnb", "spacy") if l in results]
    for task in args.tasks:
        keys = TASKS[task][1]
        desc = (f"tagger+parser, first {args.n_ewt:,} EWT train sentences, scored on EWT dev (2,001 sentences)" if task == "tagparse"
                else f"ner, first {args.n_wikiann:,} WikiANN train sentences, scored on the first {args.wikiann_dev:,} WikiANN dev sentences")
        print(f"\n{desc}; {args.max_steps} steps")
        head = f"{'setting':44}" + "".join(f"{lib + ' ' + k:>18}" for k in keys for lib in libs)
        if len(libs) == 2: head += "".join(f"{'diff ' + k:>15}" for k in keys)
        print(head)
        for s in args.settings:
            r = {lib: results[lib][task][s] for lib in libs}
            line = f"{SETTINGS[s]:44}" + "".join(f"{r[lib][k]:>18.4f}" for k in keys for lib in libs)
            if len(libs) == 2: line += "".join(f"{r['nlpnb'][k] - r['spacy'][k]:>+15.4f}" for k in keys)
            print(line)
    print(f"\n{'':8}{'init vectors s':>16}" + "".join(f"{'pretrain ' + n + ' s':>30}" for n in results[libs[0]]["pretrain"]))
    for lib in libs:
        print(f"{lib:8}{results[lib]['init_vectors_seconds']:>16.2f}" +
              "".join(f"{p['seconds']:>30.1f}" for p in results[lib]["pretrain"].values()))

def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--spacy-python", default=str(ROOT / "benchmarks" / ".venv" / "bin" / "python"))
    p.add_argument("--libs", default="nlpnb,spacy")
    p.add_argument("--tasks", default="tagparse,ner")
    p.add_argument("--settings", default=",".join(SETTINGS))
    p.add_argument("--max-steps", type=int, default=600)
    p.add_argument("--pretrain-epochs", type=int, default=1)
    p.add_argument("--raw-sents", type=int, default=0, help="raw lines for pretraining (0: all)")
    p.add_argument("--n-ewt", type=int, default=1000)
    p.add_argument("--n-wikiann", type=int, default=2000)
    p.add_argument("--wikiann-dev", type=int, default=2000)
    p.add_argument("--dim", type=int, default=100)
    p.add_argument("--w2v-epochs", type=int, default=5)
    p.add_argument("--vectors-file", default=None, help="use this word2vec text file instead of training one")
    p.add_argument("--parallel", action="store_true", help="run the two libraries at the same time")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "bench_transfer.json"))
    args = p.parse_args()
    args.tasks, args.settings, libs = args.tasks.split(","), args.settings.split(","), args.libs.split(",")
    print("command:", " ".join([Path(sys.executable).name, *sys.argv]), flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="bench_transfer_"))
    results = {"settings": {k: v for k, v in vars(args).items()}, "prepared": prepare(tmp, args)}
    vec = Path(results["prepared"]["vectors_file"])
    pythons = {lib: sys.executable if lib == "nlpnb" else args.spacy_python for lib in libs}
    with ThreadPoolExecutor(len(libs) if args.parallel else 1) as ex:
        futs = {lib: ex.submit(side, lib, pythons[lib], tmp, vec, args) for lib in libs}
        for lib, f in futs.items(): results[lib] = f.result()
    out = Path(args.out); out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str))
    print_tables(results, args)
    print(f"\nwritten to {out}")

if __name__ == "__main__":
    main()
