"""Fuzz the files users hand to nlpnb: corrupt `.nlpnb` corpora, model folders and configs, and check each fails cleanly.

    python benchmarks/fuzz_reliability.py [--minutes 10] [--seed 0] [--timeout 60] [--keep DIR]

Targets, picked at random case by case:
- `docbin`: a `.nlpnb` file of 200 real UD English EWT dev sentences, corrupted as a file or (more often) inside
  its zlib stream, read with `DocBin().from_disk` and every doc rebuilt (`get_docs`, then `to_json`, sentences,
  entities);
- `model`: every file of a small trained tagger + parser folder (trained once, a few steps, at start-up), loaded with
  `nlpnb.load` and run on three texts; a file or a component folder may also be deleted;
- `config`: the model's `config.cfg` (with its corpora pointed at real files) mutated as a config: a key deleted, a
  value's type changed, two sections swapped, a section renamed or turned into a value, a reference broken; then
  `load_config`, `config_problems` and `Language.from_config`.
Byte mutations: flip bits, truncate, insert random bytes, delete or duplicate a range, zero a range, empty the file.

Each case runs in its own process (forked from a parent that has imported nlpnb, so a case starts in milliseconds),
under a timeout. A case is
- `clean`: an error of a builtin or nlpnb error type (`ValueError`, `OSError` and their nlpnb subclasses; not a
  `UnicodeError`, JSON or msgpack decoder error) whose message names the mutated file or its component's folder (for
  configs: the file, or a config key such as `components.tagger.model`);
- `ok`: no error, and the result is sane (the model runs and gives tags and heads in range; the docs rebuild; a
  file left unchanged in meaning gives the original's predictions);
- `crash`: any other exception, an error that names nothing, a failure only when the loaded model is used, or death
  by a signal;
- `hang`: the timeout.
Prints the counts per target and the first few crashes and hangs; exits 1 when there is any crash or hang.
"""
import argparse, json, os, random, re, select, shutil, signal, sys, tempfile, time, traceback
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"): os.environ.setdefault(_var, "1")

from _fixtures import EWT_DEV, train_tiny  # benchmarks/_fixtures.py, next to this script
TEXTS = ["Ada Lovelace wrote the first program in 1843.", "Is it raining? I hope not!", ""]


# --- the originals -----------------------------------------------------------------------------------------

def make_originals(work: Path) -> dict:
    "A `.nlpnb` of real docs, a small trained tagger + parser folder, its config with real corpora, and references."
    import nlpnb
    train_tiny(work / "model", n_docs=200, corpus=work)
    config = (work / "model" / "config.cfg").read_text()
    (work / "config.cfg").write_text(config.replace('train = null', f'train = "{work / "train.nlpnb"}"')
                                            .replace('dev = null', f'dev = "{work / "dev.nlpnb"}"'))
    return {"reference": model_outputs(nlpnb.load(work / "model")), "files": model_files(work / "model")}


def model_files(model: Path) -> list:
    return sorted(str(p.relative_to(model)) for p in model.rglob("*") if p.is_file())


def model_outputs(nlp) -> list:
    "What the sanity check compares: words, tags, heads and deps of TEXTS; checks they are in range."
    out = []
    for text in TEXTS:
        doc = nlp(text)
        heads = [t.head.i for t in doc]
        if any(not 0 <= h < len(doc) for h in heads): raise AssertionError(f"heads out of range: {heads}")
        if doc.text != text: raise AssertionError(f"the doc's text {doc.text!r} is not {text!r}")
        doc.to_json(); list(doc.sents)
        out.append([[t.text for t in doc], [t.tag_ for t in doc], heads, [t.dep_ for t in doc]])
    return out


# --- mutations ---------------------------------------------------------------------------------------------

def mutate_bytes(data: bytes, rng: random.Random) -> tuple:
    "One random corruption of `data`: (new bytes, description)."
    n = len(data)
    kind = rng.choice(["flip", "flip", "truncate", "insert", "delete", "duplicate", "zero", "empty"])
    if n == 0 or kind == "empty": return b"", "emptied"
    i = rng.randrange(n)
    if kind == "flip":
        b = bytearray(data)
        k = rng.choice([1, 1, 2, 4, 8])
        for _ in range(k):
            j = rng.randrange(n); b[j] ^= 1 << rng.randrange(8)
        return bytes(b), f"{k} bit flip(s)"
    if kind == "truncate": return data[:i], f"truncated to {i} of {n} bytes"
    if kind == "insert":
        junk = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        return data[:i] + junk + data[i:], f"{len(junk)} random bytes inserted at {i}"
    j = min(n, i + rng.randint(1, 64))
    if kind == "delete": return data[:i] + data[j:], f"bytes {i}..{j} deleted"
    if kind == "duplicate": return data[:j] + data[i:j] + data[j:], f"bytes {i}..{j} duplicated"
    return data[:i] + bytes(j - i) + data[j:], f"bytes {i}..{j} zeroed"


def _leaves(node, path=()):
    for k, v in node.items():
        if isinstance(v, dict): yield from _leaves(v, path + (k,))
        else: yield path + (k,), v


def _sections(node, path=()):
    for k, v in node.items():
        if isinstance(v, dict): yield path + (k,); yield from _sections(v, path + (k,))


def mutate_config(text: str, rng: random.Random) -> tuple:
    "One structural change to a config: (new text, description, words a clean error may name instead of the file)."
    for _ in range(20):
        try: return _mutate_config(text, rng)
        except Exception: continue   # a change the config writer can't express (a top-level value): pick another
    return mutate_bytes(text.encode(), rng) + ([],)


def _mutate_config(text: str, rng: random.Random) -> tuple:
    from thinc.api import Config
    cfg = Config().from_str(text, interpolate=False)
    leaves, sections = list(_leaves(cfg)), list(_sections(cfg))
    kind = rng.choice(["delete_key", "retype", "retype", "swap", "rename", "section_to_value", "bad_ref", "bytes"])
    def parent(path): return cfg if len(path) == 1 else _get(cfg, path[:-1])
    if kind == "delete_key":
        path, _ = rng.choice(leaves); del parent(path)[path[-1]]
        return cfg.to_str(), f"deleted {'.'.join(path)}", [path[-1], path[-2] if len(path) > 1 else path[0]]
    if kind == "retype":
        path, value = rng.choice(leaves)
        new = rng.choice([5, -1, 0.5, "text", True, None, [1, 2], ["a"], {"x": 1}, "${paths.nothing}", 10**30])
        parent(path)[path[-1]] = new
        return cfg.to_str(), f"{'.'.join(path)} = {new!r} (was {value!r})", [path[-1]]
    if kind == "swap" and len(sections) > 1:
        a, b = rng.sample(sections, 2)
        if a[:len(b)] == b or b[:len(a)] == a: raise ValueError("nested sections")
        va, vb = _get(cfg, a), _get(cfg, b)
        parent(a)[a[-1]], parent(b)[b[-1]] = vb, va
        return cfg.to_str(), f"swapped [{'.'.join(a)}] and [{'.'.join(b)}]", [a[-1], b[-1]]
    if kind == "rename":
        path = rng.choice(sections); p = parent(path)
        p[path[-1] + "_x"] = p.pop(path[-1])
        return cfg.to_str(), f"renamed [{'.'.join(path)}]", [path[-1]]
    if kind == "section_to_value":
        path = rng.choice(sections); parent(path)[path[-1]] = rng.choice([5, "x", [1]])
        return cfg.to_str(), f"[{'.'.join(path)}] became a value", [path[-1]]
    if kind == "bad_ref":
        path, _ = rng.choice(leaves); parent(path)[path[-1]] = "${nowhere.nothing}"
        return cfg.to_str(), f"{'.'.join(path)} = ${{nowhere.nothing}}", [path[-1], "nowhere"]
    data, what = mutate_bytes(text.encode(), rng)
    return data, what, []


def _get(node, path):
    for k in path: node = node[k]
    return node


# --- running one case in a forked process ------------------------------------------------------------------

def run_docbin(path: Path) -> str:
    from nlpnb.tokens import DocBin
    from nlpnb.vocab import Vocab
    docs = list(DocBin().from_disk(path).get_docs(Vocab()))
    for doc in docs:
        doc.to_json(); [(e.start, e.label_) for e in doc.ents]
        if doc.has_annotation("SENT_START"): list(doc.sents)
        if any(not 0 <= t.head.i < len(doc) for t in doc): raise AssertionError("heads out of range")
    return f"{len(docs)} docs"


def run_model(path: Path, reference: list, unchanged: bool) -> str:
    import nlpnb
    nlp = nlpnb.load(path)
    try: out = model_outputs(nlp)
    except Exception as e: raise UsedAfterLoad(f"loaded, then failed on use: {type(e).__name__}: {e}") from e
    if unchanged and out != reference: raise UsedAfterLoad("a file unchanged in meaning changed the predictions")
    return "loaded and ran"


def run_config(path: Path) -> str:
    from nlpnb.config import config_problems, load_config
    from nlpnb.language import Language
    config = load_config(path)
    problems = config_problems(config)
    if problems:
        from nlpnb.config import ConfigError
        raise ConfigError(f"Invalid config {path}:\n" + "\n".join(problems))  # as `nlpnb debug config` reports them
    Language.from_config(config)
    return "created the pipeline"


class UsedAfterLoad(Exception):
    "The folder loaded but the pipeline failed when used: load should have refused it."


CONFIG_KEY = re.compile(r"\b(paths|system|nlp|components|corpora|training|pretraining|initialize)(\.[^\s.,:;'\"()\[\]]+)+")


def classify(e: BaseException, needles: list) -> str:
    cls = type(e)
    ours = cls.__module__ == "builtins" or cls.__module__.startswith("nlpnb")
    if isinstance(e, UsedAfterLoad) or isinstance(e, UnicodeError) or not ours: return "crash"
    if not isinstance(e, (ValueError, OSError)): return "crash"
    msg = str(e)
    if any(n and n in msg for n in needles): return "clean"
    return "clean" if "config-key" in needles and CONFIG_KEY.search(msg) else "crash"


def run_case(target: str, path: Path, needles: list, extra: dict, timeout: float) -> dict:
    "Fork, run the case in the child, and report {status, detail}."
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            if target == "docbin": detail, status = run_docbin(path), "ok"
            elif target == "model": detail, status = run_model(path, extra["reference"], extra["unchanged"]), "ok"
            else: detail, status = run_config(path), "ok"
        except BaseException as e:
            status = classify(e, needles)
            tb = traceback.extract_tb(e.__traceback__)
            detail = f"{type(e).__module__}.{type(e).__name__}: {str(e)[:600]}"
            if status == "crash": detail += f"\n    raised at {tb[-1].filename}:{tb[-1].lineno}" if tb else ""
        os.write(w, json.dumps({"status": status, "detail": detail}).encode())
        os.close(w)
        os._exit(0)
    os.close(w)
    chunks, deadline = [], time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([r], [], [], left)[0]:
            os.kill(pid, signal.SIGKILL); os.waitpid(pid, 0); os.close(r)
            return {"status": "hang", "detail": f"no answer in {timeout:.0f} s"}
        chunk = os.read(r, 1 << 16)
        if not chunk: break
        chunks.append(chunk)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status): return {"status": "crash", "detail": f"killed by signal {os.WTERMSIG(status)}"}
    try: return json.loads(b"".join(chunks))
    except ValueError: return {"status": "crash", "detail": f"no result (exit status {status})"}


# --- one random case per target ----------------------------------------------------------------------------

def case_docbin(work: Path, case: Path, rng: random.Random) -> tuple:
    import zlib
    data = (work / "dev.nlpnb").read_bytes()
    if rng.random() < 0.6:   # inside the zlib stream (whose checksum catches any change to the file itself)
        raw, what = mutate_bytes(zlib.decompress(data), rng)
        data, what = zlib.compress(raw), f"decompressed msgpack: {what}"
    else: data, what = mutate_bytes(data, rng)
    path = case / "dev.nlpnb"; path.write_bytes(data)
    return path, [str(path)], {}, what


def case_model(work: Path, case: Path, rng: random.Random, files: list) -> tuple:
    model = case / "model"
    shutil.copytree(work / "model", model)
    if rng.random() < 0.1:
        victim = rng.choice(files + sorted({f.split("/")[0] for f in files if "/" in f}))
        p = model / victim
        shutil.rmtree(p) if p.is_dir() else p.unlink()
        return model, [victim, str(p), str(model / victim.split("/")[0])], {"unchanged": False}, f"{victim} deleted"
    victim = rng.choice(files)
    old = (model / victim).read_bytes()
    data, what = mutate_bytes(old, rng)
    (model / victim).write_bytes(data)
    unchanged = data == old or _same_json(data, old)   # e.g. whitespace: the same pipeline, so the same predictions
    folder = str(model / victim.split("/")[0]) if "/" in victim else str(model / victim)   # a component's folder names its file
    return model, [victim, str(model / victim), folder], {"unchanged": unchanged}, f"{victim}: {what}"


def _same_json(a: bytes, b: bytes) -> bool:
    import srsly
    try: return srsly.json_loads(a.decode("utf8")) == srsly.json_loads(b.decode("utf8"))
    except Exception: return False


def case_config(work: Path, case: Path, rng: random.Random) -> tuple:
    text, what, keys = mutate_config((work / "config.cfg").read_text(), rng)
    path = case / "config.cfg"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path, [str(path), "config-key"] + [str(k) for k in keys], {}, what


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0, help="how long to fuzz (after the set-up)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cases", type=int, default=None, help="stop after this many cases (a fixed set for a seed), or at --minutes")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds one case may take before it counts as a hang")
    ap.add_argument("--keep", type=Path, default=None, help="copy each crashing or hanging case's files here")
    ap.add_argument("--show", type=int, default=10, help="how many crashes and hangs to print")
    args = ap.parse_args(argv)
    if not EWT_DEV.exists(): print(f"missing {EWT_DEV}", file=sys.stderr); return 2
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="nlpnb-fuzz-") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        orig = make_originals(work)
        print(f"set-up (corpus, a tagger + parser trained a few steps): {time.perf_counter() - t0:.1f} s", flush=True)
        counts = {t: {"clean": 0, "ok": 0, "crash": 0, "hang": 0} for t in ("docbin", "model", "config")}
        bad, n, deadline = [], 0, time.monotonic() + 60 * args.minutes
        while time.monotonic() < deadline and (args.cases is None or n < args.cases):
            case = work / f"case{n}"; case.mkdir()
            target = rng.choice(["docbin", "model", "model", "config"])
            if target == "docbin": path, needles, extra, what = case_docbin(work, case, rng)
            elif target == "model": path, needles, extra, what = case_model(work, case, rng, orig["files"])
            else: path, needles, extra, what = case_config(work, case, rng)
            extra["reference"] = orig["reference"]
            res = run_case(target, path, needles, extra, args.timeout)
            counts[target][res["status"]] += 1
            if res["status"] in ("crash", "hang"):
                bad.append(f"[{target} #{n}] {what}\n  {res['status']}: {res['detail']}")
                if args.keep: shutil.copytree(case, args.keep / f"case{n}", dirs_exist_ok=True)
            shutil.rmtree(case)
            n += 1
        for line in bad[:args.show]: print(line)
        if len(bad) > args.show: print(f"... and {len(bad) - args.show} more")
        total = {k: sum(c[k] for c in counts.values()) for k in ("clean", "ok", "crash", "hang")}
        for target, c in counts.items(): print(f"{target:7s} " + "  ".join(f"{k} {v}" for k, v in c.items()))
        print(f"{n} cases in {(time.monotonic() - deadline) / 60 + args.minutes:.2f} min (seed {args.seed}): " + "  ".join(f"{k} {v}" for k, v in total.items()))
        return 1 if total["crash"] or total["hang"] else 0


if __name__ == "__main__":
    sys.exit(main())
