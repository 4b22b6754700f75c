"""Trained pipelines, nlpnb against spaCy: tagger + parser and tagger + morphologizer + senter on UD English EWT,
ner on WikiANN, textcat on SST-2.

    .venv/bin/python benchmarks/bench_parser.py [--spacy-python benchmarks/.venv/bin/python] [--epochs 3]
        [--batch-words 500] [--threads 1] [--n-train N] [--n-dev N] [--tasks parser,ner] [--only nlpnb|spacy]
        [--group N] [--optimize efficiency|accuracy] [--seed 0] [--nlpnb-set KEY=VALUE ...] [--json PATH]
    .venv/bin/python benchmarks/bench_parser.py --tasks tagging,textcat [...]

A long run (minutes; not a test). Up to four pipelines are trained, each by both libraries in the same run, on the same
data, epochs, batches and threads (`--tasks`, default parser,ner):

- `parser` task: tok2vec + tagger + parser, the tagger and parser reading one shared tok2vec through listeners, trained
  on ../shared/data/ud_en_ewt/en_ewt-ud-train.conllu (XPOS tags, heads, dependency labels; one sentence per Doc) and
  scored on en_ewt-ud-dev.conllu: tag_acc, dep_uas, dep_las, sents_f. With `--group N` the sentences are grouped in
  file order into Docs of N consecutive sentences (heads shifted), as `convert -n N` writes them, for training and
  dev alike: the parser then has to find the sentence boundaries itself (sents_f).
- `ner` task: tok2vec + ner (again through a listener), trained on ../shared/data/wikiann_en/train.iob and scored on
  dev.iob (IOB2 tags PER/ORG/LOC; one sentence per Doc): ents_f (and ents_p, ents_r).
- `tagging` task: tok2vec + tagger + morphologizer + senter, all three reading one shared tok2vec through listeners,
  trained on EWT train (XPOS tags, UPOS `pos`, FEATS `morphs`, sentence starts) and scored on EWT dev: tag_acc,
  pos_acc, morph_acc (the morphologizer predicts POS and FEATS jointly), sents_f. For this task the sentences are
  grouped in file order into Docs of `GROUP` (10) consecutive sentences, so that the senter has real boundaries to
  find (`--n-train`/`--n-dev` still count sentences).
- `textcat` task: a tok2vec-free `textcat` (bag of words, exclusive classes POSITIVE/NEGATIVE), trained on
  ../shared/data/sst2/train.tsv and scored on dev.tsv (one phrase per Doc, tokenized once here by nlpnb's English
  tokenizer): cats_score (macro F) and cats_macro_auc.

Each pipeline is the library's own `init config --optimize efficiency` for those components: spaCy's from
`spacy.cli.init_config.init_config(lang="en", pipeline=[...], optimize="efficiency")` (what `spacy init config` writes),
nlpnb's from `nlpnb.init_config.init_config(lang="en", pipeline=[...], optimize="efficiency")`. That is a
MultiHashEmbed (NORM, PREFIX, SUFFIX, SHAPE; 5000/1000/2500/2500 rows) + MaxoutWindowEncoder (width 96, depth 4,
window 1, 3 pieces) tok2vec; `TransitionBasedParser` models with hidden_width 128, maxout_pieces 3 (parser) and
hidden_width 64, maxout_pieces 2 (ner), use_upper true; the tagger's and morphologizer's label_smoothing is set to
0.05 (spaCy's init-config value) on both sides. Where the two init configs differ in shape, `SHAPES` gives both the
same one, built from each library's own blocks: spaCy's init config gives the senter its own small HashEmbedCNN
(senter is not one of its template's listener components) while nlpnb's gives it a listener, so the senter reads the
shared tok2vec through the library's own listener on both sides. The efficiency textcat is a tok2vec-free bag of
words on both sides (nlpnb.TextCatBOW.v1, spacy.TextCatBOW.v3, the same settings).

`--optimize accuracy` takes each library's `init config --optimize accuracy` instead (CPU, no transformer): a
MaxoutWindowEncoder of width 256 and depth 8 over a MultiHashEmbed of width 256 (spaCy's rows 5000/1000/2500/2500,
nlpnb's 10000/2500/5000/5000: each template's own). spaCy's accuracy template also embeds static vectors
(`include_static_vectors = true`, `[initialize] vectors = "en_core_web_lg"`); no vectors are installed here
(../shared/data has none), so both sides run WITHOUT static vectors: the script sets `include_static_vectors = false`
and `[initialize] vectors = null` on spaCy's config (nlpnb's accuracy template has none without `--vectors`). These
configs train about 4x slower; `--n-train` (the same number for both sides) keeps a run short.
The script prints every component setting in which the two resolved configs still differ, so a mismatch can't go
unnoticed.

Training is each library's own `nlp.update` loop (not `train`): `nlp.initialize` over the training Examples, then
`--epochs` passes over the training Docs shuffled with the same seed on both sides (`--seed`, default 0, also seeds the
initial weights and dropout: other seeds measure the run-to-run spread), in batches that take Docs until
they hold at least `--batch-words` words, with dropout 0.1 and the same thinc Adam (learn rate 0.001, beta1 0.9,
beta2 0.999, L2 weight decay 0.01, gradient clipping 1.0, no parameter averaging). The data are read once here, with
nlpnb's CoNLL-U and IOB readers and its English tokenizer, and handed to both sides as JSON (words, spaces and each
task's `FIELDS`: Doc keyword arguments, or `cats`), so both build Docs with identical tokens.

Each side runs in its own process (nlpnb with this interpreter, spaCy with `--spacy-python`; nlpnb never imports spaCy)
with OMP/MKL/OPENBLAS/NUMBA threads set to `--threads`. Measured, for each task and library, with the ratio
nlpnb / spaCy:
- dev accuracy after each epoch, by each library's own `nlp.evaluate` (fresh predicted Docs);
- training words per second: words of the training set times epochs, over the seconds spent inside `nlp.update`
  only (building Examples, batching and evaluation excluded); also `nlp.initialize` and first-update seconds;
- inference words per second: `nlp.pipe` over fresh dev Docs (built from words and spaces, so no tokenizer) with
  batch_size 1000, best of 3 passes (the first pass is reported apart);
- peak resident memory of the training process (VmHWM: a child's ru_maxrss would start at the driver's);
- first-call latency: the trained pipeline is saved with `nlp.to_disk`, and a fresh process imports the library,
  loads it (`nlpnb.load` / `spacy.load`) and times the first `nlp(text)` on a dev sentence's text (tokenizer
  included), which for nlpnb includes Numba JIT compilation. That process runs twice with NUMBA_CACHE_DIR set to a new
  empty folder: the first run compiles everything ("cold"), the second reads Numba's on-disk cache ("cached"). Its
  import, load and second-call times and peak memory are reported too, and the process CPU seconds of the import, the load
  and the first call (on a shared machine less sensitive to other load than the wall clock).

Printed as a table per task; written to benchmarks/results/bench_parser.json (tasks parser,ner) or
bench_parser_tagging_textcat.json (tasks tagging,textcat). A run that is not complete (`--only`, another set of
`--tasks`, or a side that failed) writes bench_parser_ONLY[_TASKS].json / bench_parser_partial[_TASKS].json instead,
so it never overwrites a complete side-by-side result.
"""
import argparse, copy, importlib, json, os, random, resource, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
EWT, WIKIANN, SST2 = DATA / "ud_en_ewt", DATA / "wikiann_en", DATA / "sst2"
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")
PIPELINES = {"parser": ["tagger", "parser"], "ner": ["ner"], "tagging": ["tagger", "morphologizer", "senter"],
             "textcat": ["textcat"]}
DESCRIPTIONS = {"parser": "tok2vec + tagger + parser (listeners) on UD English EWT",
                "ner": "tok2vec + ner (listener) on WikiANN English",
                "tagging": "tok2vec + tagger + morphologizer + senter (listeners) on UD English EWT",
                "textcat": "textcat (bag of words, no tok2vec) on SST-2"}
# a data row is [words, spaces, *FIELDS]: Doc keyword arguments, or "cats" ({label: 0/1}) set on the reference Doc
FIELDS = {"parser": ["tags", "heads", "deps"], "ner": ["ents"], "tagging": ["tags", "pos", "morphs", "sent_starts"],
          "textcat": ["cats"]}
SCORES = {"parser": ["tag_acc", "dep_uas", "dep_las", "sents_f"], "ner": ["ents_f", "ents_p", "ents_r"],
          "tagging": ["tag_acc", "pos_acc", "morph_acc", "sents_f"], "textcat": ["cats_score", "cats_macro_auc"]}
EPOCH_SCORES = {"parser": SCORES["parser"], "ner": ["ents_f"], "tagging": SCORES["tagging"], "textcat": ["cats_score"]}
SUITES = (("parser", "ner"), ("tagging", "textcat"))  # task sets run together; the first is the default --tasks
GROUP = {"tagging": 10}  # consecutive EWT sentences per Doc (one when not listed)
# settings set explicitly on both sides (where the component has them), on top of each library's init config
OVERRIDES = {"tagger": {"label_smoothing": 0.05}, "morphologizer": {"label_smoothing": 0.05}}
# shapes given to both sides where the init configs differ, built from each library's own blocks: `listen`, components
# whose model reads the shared tok2vec through the config's own listener block
SHAPES = {"tagging": {"listen": ["senter"]}}
ADAM = dict(learn_rate=0.001, beta1=0.9, beta2=0.999, eps=1e-8, L2=0.01, L2_is_weight_decay=True, grad_clip=1.0,
            use_averages=False)

# ---------------------------------------------------------------------------------------------------------------------
# one library's side (runs in that library's interpreter)

OPTIMIZE = {"value": "efficiency"}  # `--optimize`: which init config template both sides take

def set_settings(config, settings) -> None:
    "Apply `--nlpnb-set KEY=VALUE` settings (dotted config paths, JSON values) to `config`, in place."
    for item in settings or ():
        key, sep, text = item.partition("=")
        *path, last = key.split(".")
        node = config
        for part in path: node = node.get(part) if isinstance(node, dict) else None
        if not sep or not isinstance(node, dict) or last not in node: raise SystemExit(f"--nlpnb-set {item}: no setting {key} in the config")
        try: node[last] = json.loads(text)
        except ValueError: node[last] = text

def _no_static_vectors(config) -> None:
    "Turn off static vectors in a config, in place: every `include_static_vectors`, and `[initialize] vectors`."
    def walk(node):
        for k, v in node.items():
            if isinstance(v, dict): walk(v)
            elif k == "include_static_vectors": node[k] = False
    walk(config)
    if "initialize" in config: config["initialize"]["vectors"] = None
    if "paths" in config and "vectors" in config["paths"]: config["paths"]["vectors"] = None

def _library(lib: str):
    "(module, Language-from-config function, Doc, Example, load, version) of `lib`; nlpnb never imports spaCy."
    import thinc
    if lib == "nlpnb":
        import nlpnb
        from nlpnb.language import Language
        try: importlib.import_module("nlpnb.pipeline.transition_parser")  # registers parser and ner
        except ImportError as e: print(f"  nlpnb: can't import nlpnb.pipeline.transition_parser ({e})", flush=True)
        from nlpnb.tokens.doc import Doc
        from nlpnb.training.example import Example
        from nlpnb.init_config import init_config
        make_config = lambda pipeline: init_config(lang="en", pipeline=pipeline, optimize=OPTIMIZE["value"])
        return nlpnb, make_config, Language.from_config, Doc, Example, nlpnb.load, f"{nlpnb.__version__} (thinc {thinc.__version__})"
    import spacy
    from spacy.tokens import Doc
    from spacy.training import Example
    from spacy.cli.init_config import init_config
    def make_config(pipeline):
        config = init_config(lang="en", pipeline=pipeline, optimize=OPTIMIZE["value"], gpu=False, pretraining=False,
                             silent=True)
        _no_static_vectors(config)   # no vectors here (see --optimize in the docstring): none on either side
        return config
    from_config = lambda config: spacy.util.load_model_from_config(config, auto_fill=True, validate=True)
    return spacy, make_config, from_config, Doc, Example, spacy.load, f"{spacy.__version__} (thinc {thinc.__version__})"

def _flat(node, prefix: str = "") -> dict:
    "A config section as {dotted.key: value}; registry names lose their library prefix (spacy./nlpnb.) and version."
    out = {}
    for k, v in node.items():
        key = f"{prefix}.{k}" if prefix else k
        if isinstance(v, dict): out.update(_flat(v, key))
        elif isinstance(k, str) and k.startswith("@") and isinstance(v, str):
            out[key] = v.split(".", 1)[-1].rsplit(".v", 1)[0] if v.split(".", 1)[0] in ("spacy", "nlpnb") else v
        else: out[key] = v
    return out

def peak_rss_mb() -> float:
    "This process's peak resident memory in MB: Linux's VmHWM, which exec resets."
    # ru_maxrss (the fallback) starts at the RSS of the parent that forked this process: here the driver, with all the data
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"): return int(line.split()[1]) / 1024
    except OSError: pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

def _listener(block) -> bool:
    return isinstance(block, dict) and str(block.get("@architectures", "")).endswith("Tok2VecListener.v1")

def align_config(config, task: str) -> None:
    "Give a library's own init `config` the `OVERRIDES` settings and the task's `SHAPES`, in place."
    comps = config["components"]
    for name, settings in OVERRIDES.items():
        block = comps.get(name)
        if block is not None:
            for key, value in settings.items():
                if key in block: block[key] = value
    shape = SHAPES.get(task, {})
    listener = next((b["model"]["tok2vec"] for b in comps.values()
                     if isinstance(b.get("model"), dict) and _listener(b["model"].get("tok2vec"))), None)
    for name in shape.get("listen", []):
        if name in comps and listener is not None: comps[name]["model"]["tok2vec"] = copy.deepcopy(dict(listener))

def make_doc(Doc, vocab, task: str, row, annotated: bool):
    "A Doc of a data row: words and spaces only, or (`annotated`) with the task's `FIELDS` as well."
    words, spaces, *values = row
    if not annotated: return Doc(vocab, words=words, spaces=spaces)
    fields = dict(zip(FIELDS[task], values))
    cats = fields.pop("cats", None)
    doc = Doc(vocab, words=words, spaces=spaces, **fields)
    if cats is not None: doc.cats = dict(cats)
    return doc

def word_batches(order, lengths, size: int):
    "Consecutive sentences of `order`, each batch closed once it holds at least `size` words."
    batch, n = [], 0
    for i in order:
        batch.append(i); n += lengths[i]
        if n >= size: yield batch; batch, n = [], 0
    if batch: yield batch

def run_side(lib: str, task: str, data_path: str, out_path: str, model_dir: str, epochs: int, batch_words: int,
             seed: int = 0, settings=()) -> None:
    "One library's training run for one task, in this process: build, initialize, train, evaluate, time, save."
    _, make_config, from_config, Doc, Example, _, version = _library(lib)
    from thinc.api import Adam, fix_random_seed
    data = json.loads(Path(data_path).read_text())[task]
    fix_random_seed(seed)
    config = make_config(PIPELINES[task])
    align_config(config, task)
    set_settings(config, settings)
    nlp = from_config(config)
    cfg = nlp.config
    try: cfg = cfg.interpolate()
    except Exception: pass
    settings = {k: v for k, v in _flat(dict(cfg["components"])).items()}
    def examples(rows): return [Example(make_doc(Doc, nlp.vocab, task, r, False), make_doc(Doc, nlp.vocab, task, r, True)) for r in rows]
    train = examples(data["train"])
    lengths = [len(r[0]) for r in data["train"]]
    n_train, n_dev = sum(lengths), sum(len(r[0]) for r in data["dev"])
    opt = Adam(**ADAM)
    t0 = time.perf_counter()
    nlp.initialize(lambda: train, sgd=opt)
    out = {"lib": lib, "task": task, "version": version, "pipeline": list(nlp.pipe_names), "settings": settings,
           "init_s": time.perf_counter() - t0, "n_train_sents": len(train), "n_train_words": n_train,
           "n_dev_sents": len(data["dev"]), "n_dev_words": n_dev, "epochs": []}
    order = list(range(len(train)))
    for epoch in range(epochs):
        random.Random(epoch + 1000 * seed).shuffle(order)
        seconds, cpu_seconds, losses, n_updates = 0.0, 0.0, {}, 0
        for batch_ids in word_batches(order, lengths, batch_words):
            batch = [train[j] for j in batch_ids]
            t0, c0 = time.perf_counter(), time.process_time()
            nlp.update(batch, drop=0.1, sgd=opt, losses=losses)
            dt = time.perf_counter() - t0
            cpu_seconds += time.process_time() - c0
            if epoch == 0 and n_updates == 0: out["first_update_s"] = dt
            seconds += dt; n_updates += 1
        t0 = time.perf_counter()
        scores = nlp.evaluate(examples(data["dev"]))
        eval_s = time.perf_counter() - t0
        entry = {"train_s": seconds, "train_cpu_s": cpu_seconds, "train_wps": n_train / seconds, "updates": n_updates,
                 "losses": {k: float(v) for k, v in losses.items()}, "eval_s": eval_s,
                 **{k: scores.get(k) for k in SCORES[task]}}
        out["epochs"].append(entry)
        shown = ", ".join(f"{k} {entry[k]:.4f}" for k in SCORES[task] if entry[k] is not None)
        print(f"  {lib} {task} epoch {epoch + 1}: {n_train / seconds:,.0f} words/s, {shown}", flush=True)
    nlp.to_disk(model_dir)
    runs = []
    for _ in range(3):
        docs = [make_doc(Doc, nlp.vocab, task, r, False) for r in data["dev"]]
        t0 = time.perf_counter()
        for _ in nlp.pipe(docs, batch_size=1000): pass
        runs.append(time.perf_counter() - t0)
    last = out["epochs"][-1]
    out.update({k: last[k] for k in SCORES[task]})
    out.update(infer_first_s=runs[0], infer_wps=n_dev / min(runs),
               train_wps=n_train * epochs / sum(e["train_s"] for e in out["epochs"]),
               train_cpu_wps=n_train * epochs / sum(e["train_cpu_s"] for e in out["epochs"]),
               peak_rss_mb=peak_rss_mb())
    Path(out_path).write_text(json.dumps(out))

def first_call(lib: str, model_dir: str, text: str, out_path: str) -> None:
    "In a fresh process: import the library, load the saved pipeline, time the first and second `nlp(text)`."
    t0, c0 = time.perf_counter(), time.process_time()
    _, _, _, _, _, load, _ = _library(lib)
    import_s, import_cpu_s = time.perf_counter() - t0, time.process_time() - c0
    t0, c0 = time.perf_counter(), time.process_time()
    nlp = load(model_dir)
    load_s, load_cpu_s = time.perf_counter() - t0, time.process_time() - c0
    t0, c0 = time.perf_counter(), time.process_time()
    doc = nlp(text)
    first_s, first_cpu_s = time.perf_counter() - t0, time.process_time() - c0
    t0 = time.perf_counter()
    nlp(text)
    second_s = time.perf_counter() - t0
    Path(out_path).write_text(json.dumps({"import_s": import_s, "load_s": load_s, "first_call_s": first_s,
                                          "second_call_s": second_s, "n_words": len(doc), "import_cpu_s": import_cpu_s,
                                          "load_cpu_s": load_cpu_s, "first_call_cpu_s": first_cpu_s,
                                          "peak_rss_mb": peak_rss_mb()}))

# ---------------------------------------------------------------------------------------------------------------------
# the driver (this interpreter)

def _first(rows, limit: int) -> list:
    "The first `limit` rows of an iterable (all when `limit` is 0)."
    out = []
    for row in rows:
        out.append(row)
        if limit and len(out) == limit: break
    return out

def group_rows(rows: list, n: int, heads: int = -1) -> list:
    "Rows of `n` consecutive rows each, joined field by field; field `heads` (token indices) shifted by each row's offset."
    if n == 1: return rows
    out = []
    for i in range(0, len(rows), n):
        group, offsets = rows[i:i + n], [0]
        for r in group: offsets.append(offsets[-1] + len(r[0]))
        out.append([sum(([h + o for h in r[k]] if k == heads else r[k] for r, o in zip(group, offsets)), [])
                    for k in range(len(rows[0]))])
    return out

def ewt_rows(task: str, name: str, limit: int) -> list:
    "EWT sentences as [words, spaces, *FIELDS[task]] rows (heads: token indices), `GROUP[task]` sentences a row."
    from nlpnb.training.converters import read_conllu
    from nlpnb.vocab import Vocab
    columns = {"tags": lambda t: t.tag_ or None, "heads": lambda t: t.head.i, "deps": lambda t: t.dep_ or None,
               "pos": lambda t: t.pos_ or None, "morphs": lambda t: str(t.morph) or "_",  # "_": no features (not missing)
               "sent_starts": lambda t: t.i == 0}
    docs = _first(read_conllu(EWT / f"en_ewt-ud-{name}.conllu", Vocab()), limit)
    rows = [[list(doc.words), [bool(t.whitespace_) for t in doc], *[[columns[f](t) for t in doc] for f in FIELDS[task]]]
            for doc in docs]
    return group_rows(rows, GROUP.get(task, 1), heads=2 + FIELDS[task].index("heads") if "heads" in FIELDS[task] else -1)

def wikiann_rows(task: str, name: str, limit: int) -> list:
    "WikiANN sentences as [words, spaces, IOB2 tags] rows."
    from nlpnb.training.converters import read_iob_sentences
    return [[list(s.words), [True] * (len(s.words) - 1) + [False], list(s.tags)]
            for s in _first(read_iob_sentences(WIKIANN / f"{name}.iob", scheme="iob2"), limit)]

def sst2_rows(task: str, name: str, limit: int) -> list:
    "SST-2 phrases as [words, spaces, {POSITIVE, NEGATIVE}] rows, tokenized by nlpnb's English tokenizer."
    import nlpnb
    tokenizer = nlpnb.blank("en").tokenizer
    lines = (SST2 / f"{name}.tsv").read_text(encoding="utf8").splitlines()
    if lines[0].split("\t") != ["sentence", "label"]: raise ValueError(f"{name}.tsv: expected the header sentence<TAB>label")
    out = []
    for text, label in _first((line.rsplit("\t", 1) for line in lines[1:]), limit):
        doc = tokenizer(text.strip())
        out.append([list(doc.words), [bool(t.whitespace_) for t in doc],
                    {"POSITIVE": float(int(label)), "NEGATIVE": 1.0 - int(label)}])
    return out

READERS = {"parser": ewt_rows, "ner": wikiann_rows, "tagging": ewt_rows, "textcat": sst2_rows}

def read_data(tasks: list, n_train: int, n_dev: int) -> dict:
    "Each task's train and dev rows ([words, spaces, *FIELDS[task]]), read by nlpnb."
    sys.path.insert(0, str(ROOT))
    return {t: {"train": READERS[t](t, "train", n_train), "dev": READERS[t](t, "dev", n_dev)} for t in tasks}

def text_of(row) -> str: return "".join(w + (" " if s else "") for w, s in zip(row[0], row[1])).strip()

def _fmt(name: str, x) -> str:
    if x is None: return "-"
    if "seconds" in name: return f"{x:,.3f}"
    if "words/" in name or "MB" in name: return f"{x:,.0f}"
    return f"{x:.4f}"

def print_table(task: str, res: dict, args) -> None:
    ours, theirs = res.get("nlpnb"), res.get("spacy")
    any_side = ours or theirs
    unit = "phrases" if task == "textcat" else "sentences" if GROUP.get(task, 1) == 1 else f"Docs of {GROUP[task]} sentences"
    print(f"\n{DESCRIPTIONS[task]} (init config --optimize {args.optimize}): train {any_side['n_train_sents']:,} {unit} ({any_side['n_train_words']:,} words) x "
          f"{args.epochs} epochs in batches of >= {args.batch_words} words; dev {any_side['n_dev_sents']:,} {unit} "
          f"({any_side['n_dev_words']:,} words); {args.threads} thread(s)")
    if ours and theirs:
        a, b = ours["settings"], theirs["settings"]
        diff = {k: (a.get(k, "(none)"), b.get(k, "(none)")) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}
        if diff:
            print("  config settings that differ (nlpnb | spaCy):")
            for k, (x, y) in diff.items(): print(f"    {k}: {json.dumps(x)} | {json.dumps(y)}")
        else: print("  configs: every component setting matches")
    print(f"{'':42}{'nlpnb ' + (ours or {}).get('version', '-'):>26}{'spaCy ' + (theirs or {}).get('version', '-'):>30}{'ratio':>8}")
    rows = [(f"{k}", lambda r, k=k: r[k]) for k in SCORES[task]]
    rows += [(f"{k} after epoch {i + 1}", lambda r, i=i, k=k: r["epochs"][i][k])
             for k in EPOCH_SCORES[task] for i in range(args.epochs)]
    rows += [("train, words/s (nlp.update)", lambda r: r["train_wps"]),
             ("train, words/CPU-s", lambda r: r["train_cpu_wps"]),
             ("inference, words/s (nlp.pipe, best of 3)", lambda r: r["infer_wps"]),
             ("inference first pass, seconds", lambda r: r["infer_first_s"]),
             ("nlp.initialize, seconds", lambda r: r["init_s"]),
             ("first update, seconds", lambda r: r["first_update_s"]),
             ("peak memory (training), MB", lambda r: r["peak_rss_mb"])]
    for run in ("cold", "cached"):
        rows += [(f"fresh process ({run}): import, seconds", lambda r, run=run: r["first_call"][run]["import_s"]),
                 ("  load, seconds", lambda r, run=run: r["first_call"][run]["load_s"]),
                 ("  first nlp(text), seconds", lambda r, run=run: r["first_call"][run]["first_call_s"]),
                 ("  second nlp(text), seconds", lambda r, run=run: r["first_call"][run]["second_call_s"]),
                 ("  import, CPU seconds", lambda r, run=run: r["first_call"][run]["import_cpu_s"]),
                 ("  load, CPU seconds", lambda r, run=run: r["first_call"][run]["load_cpu_s"]),
                 ("  first nlp(text), CPU seconds", lambda r, run=run: r["first_call"][run]["first_call_cpu_s"]),
                 ("  peak memory, MB", lambda r, run=run: r["first_call"][run]["peak_rss_mb"])]
    ratios, section = {}, ""
    for name, value in rows:
        if not name.startswith(" "): section = name.split(":")[0]
        key = f"{section}: {name.strip()}" if name.startswith(" ") else name
        def get(r):
            try: return value(r) if r else None
            except (KeyError, IndexError, TypeError): return None
        x, y = get(ours), get(theirs)
        ratio = x / y if x is not None and y else None
        if ratio is not None: ratios[key] = ratio
        print(f"{name:42}{_fmt(name, x):>26}{_fmt(name, y):>30}{(f'{ratio:.2f}' if ratio is not None else '-'):>8}")
    res["ratios"] = ratios

def add_worker_arguments(ap: argparse.ArgumentParser, *extra: str) -> None:
    "The hidden options of a benchmark's one-side subprocess besides --side (whose choices differ): --task, --data, --out, `extra`."
    for name in ("--task", "--data", "--out", *extra): ap.add_argument(name, help=argparse.SUPPRESS)

def parser() -> argparse.ArgumentParser:
    "The command-line options (bench_parser_seeds.py parses them too, to compare runs)."
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default_python = ROOT / "benchmarks" / ".venv" / "bin" / "python"
    if not default_python.exists(): default_python = Path("/work/spacy-venv/bin/python")
    ap.add_argument("--spacy-python", default=str(default_python))
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-words", type=int, default=500, help="a batch takes sentences until it holds this many words")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--n-train", type=int, default=0, help="use only the first N training sentences of each corpus (0: all)")
    ap.add_argument("--n-dev", type=int, default=0, help="use only the first N dev sentences of each corpus (0: all)")
    ap.add_argument("--tasks", default=",".join(SUITES[0]),
                    help="comma-separated: parser (tagger+parser on EWT), ner (WikiANN), tagging (tagger+morphologizer+senter "
                         "on EWT), textcat (SST-2)")
    ap.add_argument("--only", choices=["nlpnb", "spacy"], help="run one library's side only")
    ap.add_argument("--group", type=int, default=1,
                    help="parser task: consecutive EWT sentences per Doc, train and dev (convert -n N; default 1)")
    ap.add_argument("--optimize", choices=["efficiency", "accuracy"], default="efficiency",
                    help="which init config template both libraries take (accuracy: no static vectors on either side)")
    ap.add_argument("--seed", type=int, default=0,
                    help="random seed of both sides (initial weights, dropout, shuffling); 0 is the reference run")
    ap.add_argument("--nlpnb-set", action="append", metavar="KEY=VALUE",
                    help="change one setting of nlpnb's config (dotted path, JSON value), e.g. "
                         "components.parser.model.hidden_dropout=0.1: to measure a setting against its template's")
    ap.add_argument("--json", help="write the results to this file (default: benchmarks/results/bench_parser*.json)")
    ap.add_argument("--side", choices=["nlpnb", "spacy"], help=argparse.SUPPRESS)
    ap.add_argument("--first-call", choices=["nlpnb", "spacy"], help=argparse.SUPPRESS)
    add_worker_arguments(ap, "--model-dir", "--text")
    return ap

def main() -> None:
    ap = parser()
    args = ap.parse_args()
    OPTIMIZE["value"] = args.optimize
    if args.side:
        run_side(args.side, args.task, args.data, args.out, args.model_dir, args.epochs, args.batch_words, args.seed,
                 args.nlpnb_set if args.side == "nlpnb" else ()); return
    if args.first_call:
        first_call(args.first_call, args.model_dir, args.text, args.out); return
    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    if args.group > 1: GROUP["parser"] = args.group
    if not tasks or set(tasks) - set(PIPELINES): ap.error(f"--tasks: choose from {', '.join(PIPELINES)}")
    env = {**os.environ, **{v: str(args.threads) for v in THREAD_VARS}}
    sides = []
    if args.only != "spacy": sides.append(("nlpnb", sys.executable))
    if args.only != "nlpnb":
        if Path(args.spacy_python).exists(): sides.append(("spacy", args.spacy_python))
        else: print(f"spaCy interpreter not found at {args.spacy_python}: pass --spacy-python; nlpnb numbers only")
    results = {"command": " ".join([Path(sys.executable).name, *sys.argv]), "args": vars(args)}
    script = str(Path(__file__).resolve())
    with tempfile.TemporaryDirectory() as tmp:
        data_path = Path(tmp) / "data.json"
        data = read_data(tasks, args.n_train, args.n_dev)
        data_path.write_text(json.dumps(data))
        for task in tasks:
            results[task] = {}
            text = text_of(data[task]["dev"][0])
            for lib, python in sides:
                out, model_dir = Path(tmp) / f"{lib}_{task}.json", Path(tmp) / f"{lib}_{task}_model"
                cmd = [python, script, "--side", lib, "--task", task, "--data", str(data_path), "--out", str(out),
                       "--model-dir", str(model_dir), "--epochs", str(args.epochs), "--batch-words", str(args.batch_words),
                       "--optimize", args.optimize, "--seed", str(args.seed),
                       *(f"--nlpnb-set={item}" for item in (args.nlpnb_set if lib == "nlpnb" else ()))]
                print(f"{lib} {task}: training", flush=True)
                proc = subprocess.run(cmd, env=env, cwd=str(ROOT))
                if proc.returncode != 0:
                    print(f"  {lib} {task}: failed (exit status {proc.returncode}); see the traceback above", flush=True)
                    results[task][lib] = None; continue
                res = json.loads(out.read_text())
                res["first_call"] = {}
                cache = Path(tmp) / f"numba_cache_{lib}_{task}"
                cache.mkdir()
                for run in ("cold", "cached"):
                    fc = Path(tmp) / f"{lib}_{task}_first_{run}.json"
                    proc = subprocess.run([python, script, "--first-call", lib, "--model-dir", str(model_dir),
                                           "--text", text, "--out", str(fc)],
                                          env={**env, "NUMBA_CACHE_DIR": str(cache)}, cwd=str(ROOT))
                    if proc.returncode == 0: res["first_call"][run] = json.loads(fc.read_text())
                    else: print(f"  {lib} {task}: loading the saved pipeline failed (exit status {proc.returncode})", flush=True)
                res["first_call_text"] = text
                results[task][lib] = res
    for task in tasks:
        if any(results[task].values()): print_table(task, results[task], args)
    if not any(r for task in tasks for r in results[task].values()):
        print("\nno side finished: nothing written"); sys.exit(1)
    # only a complete side-by-side run (both libraries, a whole suite of tasks, nothing failed) writes
    # bench_parser.json (the default suite) or bench_parser_TASKS.json (another suite)
    suite = next((s for s in SUITES if set(s) == set(tasks)), None)
    complete = len(sides) == 2 and suite is not None and all(results[t].get(l) for t in tasks for l, _ in sides)
    parts = ([] if complete else [args.only or "partial"]) + ([] if suite == SUITES[0] else tasks)
    if args.group > 1 and "parser" in tasks: parts.append(f"group{args.group}")
    if args.optimize != "efficiency": parts.append(args.optimize)
    if args.seed: parts.append(f"seed{args.seed}")
    name = f"bench_parser{''.join('_' + p for p in parts)}.json"
    path = Path(args.json).resolve() if args.json else ROOT / "benchmarks" / "results" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1))
    print(f"\nwritten to {path}")

if __name__ == "__main__": main()
