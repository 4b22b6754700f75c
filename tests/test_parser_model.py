"""`nlpnb.TransitionBasedParser.v1` on real data: a toy tagging transition system trained through the model's thinc
path (replayed gold moves) learns UD English EWT POS tags well above the majority baseline on held-out dev sentences;
with the arc-eager system (when nlpnb.parser.arc_eager exists), the fused decoders (`greedy_parse`, `beam_parse`)
agree with the thinc path on EWT sentences, and training through `begin_update` with the dynamic oracle's costs raises
attachment accuracy. The speed comparison is benchmarks/bench_parser_model.py."""
import itertools
from pathlib import Path
from typing import List

import numpy as np
import pytest
from thinc.api import Adam, fix_random_seed

from nlpnb.ml.parser_model import beam_parse, build_tb_parser_model, greedy_parse, set_seen
from nlpnb.ml.tok2vec import HashEmbedCNN
from nlpnb.parser.state import States, init_states, take
from nlpnb.tokens.doc import Doc
from nlpnb.training.converters import read_conllu
from nlpnb.vocab import Vocab

ROOT = Path(__file__).resolve().parents[1]
EWT = ROOT.parent / "shared" / "data" / "ud_en_ewt"
needs_ewt = pytest.mark.skipif(not (EWT / "en_ewt-ud-train.conllu").exists(), reason="../shared/data/ud_en_ewt is missing")


class TagMoves:
    "Toy transition system: move k tags the buffer front with tag k; slot f = token at offset 0, -1, +1, -2, ..."
    name = "tags"
    def __init__(self, n_tags: int): self.n_moves, self.move_names = n_tags, [f"T-{k}" for k in range(n_tags)]
    def init_states(self, docs): return init_states(docs)
    def is_final(self, S): return S.b0 >= S.length
    def valid(self, S, out): out[:] = (S.b0 < S.length)[:, None]; return out
    def apply(self, S, actions):
        idx = np.flatnonzero(actions >= 0)
        S.labels[S.offset[idx] + S.b0[idx]] = actions[idx]
        S.b0[idx] += 1
    def features(self, S, nF, out):
        for f in range(nF):
            tok = S.b0 + (f + 1) // 2 * (1 if f % 2 == 0 else -1)
            ok = (tok >= 0) & (tok < S.length) & (S.b0 < S.length)
            out[:, f] = np.where(ok, S.tok_offset + tok, -1)
        return out
    def apply_best(self, S, scores, seen):
        actions = np.where(seen, scores, -np.inf).argmax(axis=1).astype(np.int32)
        actions[self.is_final(S)] = -1
        self.apply(S, actions)
        return actions


def tok2vec(width: int = 64):
    return HashEmbedCNN(width=width, depth=2, embed_size=2000, window_size=1, maxout_pieces=3, subword_features=True,
                        pretrained_vectors=None)

def ewt(name: str, n: int, vocab: Vocab) -> List[Doc]:
    return list(itertools.islice(read_conllu(EWT / f"en_ewt-ud-{name}.conllu", vocab), n))

def softmax(s: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    s = np.where(allowed, s, -1e30)
    e = np.exp(s - s.max(axis=1, keepdims=True)) * allowed
    return e / e.sum(axis=1, keepdims=True)


@needs_ewt
def test_learns_pos_tags_through_replayed_moves():
    vocab = Vocab()
    train, dev = ewt("train", 500, vocab), ewt("dev", 200, vocab)
    tags = sorted({t.pos_ for d in train + dev for t in d})
    tag_id = {t: i for i, t in enumerate(tags)}
    gold = lambda docs: [[tag_id[t.pos_] for t in d] for d in docs]
    bare = lambda docs: [Doc(vocab, d.words) for d in docs]
    moves = TagMoves(len(tags))
    fix_random_seed(0)
    model = build_tb_parser_model(tok2vec(), "ner", hidden_width=64, maxout_pieces=2, nO=len(tags))
    train_docs, dev_docs = bare(train), bare(dev)
    model.initialize(X=train_docs[:10])
    opt = Adam(0.002)
    eye = np.eye(len(tags), dtype="f")
    for epoch in range(4):
        for i in range(0, len(train_docs), 32):
            docs, g = train_docs[i:i + 32], gold(train[i:i + 32])
            S0 = moves.init_states(docs)
            follow = [np.array([s[t] if t < len(s) else -1 for s in g], np.int32) for t in range(max(map(len, g)))]
            (_, steps), backprop = model.begin_update((docs, moves, S0, follow))
            backprop([softmax(s, np.ones_like(s, bool)) - eye[a] for _, s, a in steps])
            model.finish_update(opt)
    S = greedy_parse(model, dev_docs, moves)
    pred = np.concatenate([S.labels[o:o + n] for o, n in zip(S.offset, S.length)])
    truth = np.concatenate([np.array(g) for g in gold(dev)])
    acc, baseline = (pred == truth).mean(), np.bincount(truth).max() / len(truth)
    print(f"dev POS accuracy {acc:.3f}, majority baseline {baseline:.3f}")
    assert acc > 0.75 and acc > baseline + 0.5, (acc, baseline)
    S_thinc, _ = model.predict((dev_docs, moves, moves.init_states(dev_docs), None))
    assert np.array_equal(S_thinc.labels, S.labels)


def _arc_eager():
    try:
        from nlpnb.parser.arc_eager import ArcEager
    except ImportError:
        pytest.skip("nlpnb.parser.arc_eager is not there yet")
    return ArcEager

def _random_parser(moves, docs, extra: bool = False, use_upper: bool = True, seed: int = 0):
    fix_random_seed(seed)
    model = build_tb_parser_model(tok2vec(32), "parser", extra_state_tokens=extra, hidden_width=32, maxout_pieces=2,
                                  use_upper=use_upper, nO=moves.n_moves)
    model.initialize(X=docs[:10])
    if use_upper:
        upper = model.get_ref("upper")
        upper.set_param("W", np.random.normal(0, 1, upper.get_param("W").shape).astype("f"))
    return model

def _same_states(A: States, B: States) -> None:
    for f in States._fields: assert np.array_equal(getattr(A, f), getattr(B, f)), f


@needs_ewt
@pytest.mark.parametrize("extra,use_upper", [(False, True), (True, True), (False, False)])
def test_arc_eager_decoders_agree_with_thinc_path(extra, use_upper):
    ArcEager = _arc_eager()
    vocab = Vocab()
    refs = ewt("dev", 200, vocab)
    docs = [Doc(vocab, d.words) for d in refs]
    moves = ArcEager(vocab.strings, ["ROOT", "nsubj", "obj", "det", "dep", "punct"])
    model = _random_parser(moves, docs, extra, use_upper)
    assert model.get_dim("nF") == moves.n_features(extra)
    S_fast = greedy_parse(model, docs, moves)
    assert moves.is_final(S_fast).all()
    S_thinc, steps = model.predict((docs, moves, moves.init_states(docs), None))
    _same_states(S_fast, S_thinc)
    (S_tr, steps_tr), backprop = model.begin_update((docs, moves, moves.init_states(docs), None))
    _same_states(S_tr, S_thinc)
    assert all(np.allclose(s1, s2) for (_, s1, _), (_, s2, _) in zip(steps, steps_tr))
    backprop([np.ones_like(s) for _, s, _ in steps_tr])
    assert np.abs(model.get_ref("lower").get_grad("W")).sum() > 0
    _same_states(beam_parse(model, docs[:60], moves, beam_width=1), greedy_parse(model, docs[:60], moves))
    S_beam = beam_parse(model, docs[:60], moves, beam_width=4, beam_density=0.0001)
    assert moves.is_final(S_beam).all() and S_beam.doc_index.tolist() == list(range(60))
    # with only SHIFT, REDUCE, BREAK and the "dep" arcs seen, no other label appears
    seen = np.zeros(moves.n_moves, bool)
    seen[[moves.move_names.index(n) for n in ("S", "D", "B", "L-dep", "R-dep")]] = True
    set_seen(model, seen)
    S = greedy_parse(model, docs[:50], moves)
    used = {int(l) for l in S.labels if l >= 0}
    assert used <= {0, moves.labels.index("dep")}, used
    set_seen(model, None)


@needs_ewt
def test_arc_eager_training_with_dynamic_oracle_raises_uas():
    "Train through begin_update on 300 EWT train sentences with min-cost targets; held-out UAS on 150 dev sentences."
    ArcEager = _arc_eager()
    from nlpnb.training.example import Example
    vocab = Vocab()
    make = lambda refs: [Example(Doc(vocab, d.words), d) for d in refs]
    examples, dev = make(ewt("train", 300, vocab)), make(ewt("dev", 150, vocab))
    moves = ArcEager(vocab.strings, ArcEager.labels_from_examples(examples))
    fix_random_seed(0)
    model = build_tb_parser_model(tok2vec(64), "parser", hidden_width=64, maxout_pieces=2, nO=moves.n_moves)
    model.initialize(X=[eg.predicted for eg in examples[:10]])

    def uas(egs) -> float:
        docs = [eg.predicted for eg in egs]
        S = greedy_parse(model, docs, moves)
        G = moves.gold(egs, moves.init_states(docs))
        known = G.heads >= 0
        return float((S.heads[known] == G.heads[known]).mean())

    before = uas(dev)
    opt = Adam(0.005)
    for epoch in range(4):
        for i in range(0, len(examples), 16):
            batch = examples[i:i + 16]
            bdocs = [eg.predicted for eg in batch]
            S0 = moves.init_states(bdocs)
            G = moves.gold(batch, S0)
            (_, steps), backprop = model.begin_update((bdocs, moves, S0, None))
            R = take(S0, range(len(bdocs)))   # replay the model's moves on a copy to get the oracle's costs
            valid = np.zeros((len(bdocs), moves.n_moves), bool)
            costs = np.zeros((len(bdocs), moves.n_moves), np.float32)
            d_steps = []
            for active, scores, actions in steps:
                moves.valid(R, valid); moves.costs(R, G, costs)
                v, c = valid[active], costs[active]
                best = v & (c <= np.where(v, c, np.inf).min(axis=1, keepdims=True))
                d_steps.append(softmax(scores, v) - best / best.sum(axis=1, keepdims=True))
                full = np.full(len(bdocs), -1, np.int32); full[active] = actions
                moves.apply(R, full)
            backprop(d_steps)
            model.finish_update(opt)
    after = uas(dev)
    print(f"dev UAS {before:.3f} -> {after:.3f}")
    assert after > before + 0.3 and after > 0.45, (before, after)
