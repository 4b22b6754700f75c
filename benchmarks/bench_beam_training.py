"""Greedy against beam training of the parser on EWT slices (nlpnb only; a quality check, not a speed race).

    .venv/bin/python benchmarks/bench_beam_training.py [--n-train 1500] [--epochs 3] [--width 4] [--probs 0,0.5,1]

For each `beam_update_prob` in `--probs`, trains a blank English `parser` (HashEmbedCNN width 64, depth 2) on the
first `--n-train` sentences of ../shared/data/ud_en_ewt/en_ewt-ud-train.conllu in batches of 32 with dropout 0.1,
then prints seconds of training and dev UAS (first 400 dev sentences) decoded greedily and with a beam of `--width`.
"""
import argparse, itertools, random, time
from pathlib import Path

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ud_en_ewt"

def run(prob: float, width: int, n_train: int, epochs: int) -> None:
    from thinc.api import fix_random_seed
    import nlpnb
    from nlpnb.tokens.doc import Doc
    from nlpnb.training.converters import read_conllu
    from nlpnb.training.example import Example
    fix_random_seed(0); random.seed(0)
    nlp = nlpnb.blank("en")
    parser = nlp.add_pipe("parser", config={"beam_width": width if prob > 0 else 1, "beam_update_prob": prob,
                                            "model": {"tok2vec": {"width": 64, "depth": 2}}})
    read = lambda name, n: list(itertools.islice(read_conllu(DATA / f"en_ewt-ud-{name}.conllu", nlp.vocab), n))
    mk = lambda docs: [Example(Doc(nlp.vocab, [t.text for t in d], spaces=[bool(t.whitespace_) for t in d]), d) for d in docs]
    train, dev = mk(read("train", n_train)), mk(read("dev", 400))
    optimizer = nlp.initialize(lambda: train)
    start = time.perf_counter()
    for _ in range(epochs):
        random.shuffle(train)
        for i in range(0, len(train), 32): nlp.update(train[i:i + 32], sgd=optimizer, drop=0.1)
    seconds = time.perf_counter() - start
    parser.cfg["beam_width"] = 1; greedy = nlp.evaluate(dev)["dep_uas"]
    parser.cfg["beam_width"] = width; beam = nlp.evaluate(dev)["dep_uas"]
    print(f"beam_update_prob {prob:<4} train {seconds:6.1f}s   dev UAS greedy {greedy:.4f}   beam {width} {beam:.4f}")

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n-train", type=int, default=1500)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--width", type=int, default=4)
    ap.add_argument("--probs", default="0,0.5,1")
    args = ap.parse_args()
    for prob in (float(p) for p in args.probs.split(",")): run(prob, args.width, args.n_train, args.epochs)
