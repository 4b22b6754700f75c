"""Tokenizer checks on real data and hostile input: EWT round trips and agreement, Unicode, whitespace, the fast
and regex paths, explain, serialization. spaCy itself is only used when NLPNB_SPACY_PYTHON names its interpreter."""
import json, os, random, subprocess, unicodedata
from pathlib import Path
import pytest
from nlpnb.language import blank, get_lang_class
from nlpnb.symbols import ORTH, NORM
from nlpnb.tokenizer import Tokenizer
from nlpnb.vocab import Vocab

DATA = Path(__file__).parents[1].parent / "shared" / "data"
EWT = DATA / "ud_en_ewt"

@pytest.fixture(scope="module")
def nlp(): return blank("en")

def read_conllu(path: Path):
    "(text, gold words) per sentence; multiword tokens are given as their syntactic words."
    out, text, words = [], None, []
    for line in open(path, encoding="utf8"):
        if line.startswith("# text = "): text = line[9:].rstrip("\n")
        elif not line.strip():
            if text is not None: out.append((text, words))
            text, words = None, []
        elif not line.startswith("#"):
            cols = line.split("\t")
            if cols[0].isdigit(): words.append(cols[1])
    return out

def gold_spans(text: str, words):
    "Character spans of the gold words in the text (None if a word can't be found in order)."
    spans, i = set(), 0
    for w in words:
        j = text.find(w, i)
        if j < 0 or text[i:j].strip(): return None
        spans.add((j, j + len(w))); i = j + len(w)
    return spans

def doc_spans(doc): return {(t.idx, t.idx + len(t.text)) for t in doc if not t.text.isspace()}

needs_ewt = pytest.mark.skipif(not EWT.exists(), reason="shared data not available")

@needs_ewt
def test_ewt_round_trip_and_explain(nlp):
    "Every EWT sentence round-trips; on dev, explain lists exactly the Doc's tokens."
    for name in ("en_ewt-ud-dev.conllu", "en_ewt-ud-train.conllu"):
        for text, _ in read_conllu(EWT / name):
            doc = nlp(text)
            assert doc.text == text
            if "dev" in name:
                assert [t for _, t in nlp.tokenizer.explain(text)] == [t.text for t in doc if not t.text.isspace()]

@needs_ewt
def test_ewt_gold_token_f1(nlp):
    "Token boundaries agree with the UD gold tokens as well as spaCy's do (spaCy 3.8 blank('en'): F1 0.9725)."
    tp = n_pred = n_gold = 0
    for text, words in read_conllu(EWT / "en_ewt-ud-dev.conllu"):
        gold = gold_spans(text, words)
        if gold is None: continue
        pred = doc_spans(nlp(text))
        tp += len(pred & gold); n_pred += len(pred); n_gold += len(gold)
    p, r = tp / n_pred, tp / n_gold
    assert 2 * p * r / (p + r) >= 0.9725

@needs_ewt
@pytest.mark.skipif(not os.environ.get("NLPNB_SPACY_PYTHON"), reason="set NLPNB_SPACY_PYTHON to compare with spaCy")
def test_ewt_identical_to_spacy(nlp, tmp_path):
    "With a spaCy interpreter at hand, every EWT dev sentence tokenizes exactly as spaCy's blank('en') does."
    texts = [t for t, _ in read_conllu(EWT / "en_ewt-ud-dev.conllu")]
    (tmp_path / "texts.json").write_text(json.dumps(texts), encoding="utf8")
    half = Path(__file__).parents[1] / "benchmarks" / "spacy_tokenizer_half.py"
    subprocess.run([os.environ["NLPNB_SPACY_PYTHON"], str(half), str(tmp_path / "texts.json"), str(tmp_path / "out.json"),
                    "--repeats", "1", "--keep-last", str(len(texts))], check=True)
    theirs = json.loads((tmp_path / "out.json").read_text(encoding="utf8"))["tokens"]
    ours = [[[t.text, bool(t.whitespace_)] for t in nlp(text)] for text in texts]
    assert sum(a == b for a, b in zip(ours, theirs)) == len(texts)

UNICODE_TEXTS = [
    "Emoji 👍🏽 and families 👨‍👩‍👧 and flags 🇺🇸🇬🇧, hearts ❤️ and 🥱!",
    "Combining: cafe\u0301, nai\u0308ve, Zalgo z\u0336\u0335a\u0337l\u0338g\u0334o.",
    "Hebrew: שָׁלוֹם עוֹלָם. Arabic: مرحبا بالعالم، كيف حالك؟ Mixed: abc (דגם 3) def.",
    "Zero width: a\u200bb \u200b c\u200c\u200dd \ufeffBOM \u2060joined\u2060.",
    "Spaces: a\u00a0b \u2003em\u2003space\u3000ideographic \u202fnarrow\r\nCRLF\tTab\x0bVT\x0cFF\x1c\x85NEL\u2028LS",
    "CJK: 東京は日本の首都です。「こんにちは」と言った！ 한국어 문장입니다.",
    "Maths 𝐀𝐁𝐂 𝑥² + y³ = z⁴, ½ ≠ ¾, 10⁻³ km² µm.",
    "  leading and trailing  ", "\n\n", " ", "", "\t", "a", "😀", "\u0301", "\u200b",
]

def test_unicode_round_trip(nlp):
    for text in UNICODE_TEXTS:
        doc = nlp(text)
        assert doc.text == text, text
        assert all(t.text for t in doc)

def _random_text(rng: random.Random) -> str:
    pool = (list("abcXYZ019 .,;:!?'\"()[]-/$%&*+=<>@#_~`^|\\") + [" ", " ", "  ", "\n", "\t", "\u00a0", "\u200b",
            "\u0301", "é", "ß", "Ж", "א", "ا", "東", "。", "…", "—", "–", "‘", "’", "“", "”", "«", "»", "😀", "👍🏽", "🇫🇷",
            "don't", "I'm", "e.g.", "Dr.", ":)", "<3", "http://x.org/a?b", "a@b.com", "U.S.", "5km", "$5", "can't"])
    return "".join(rng.choice(pool) for _ in range(rng.randint(0, 30)))

def test_random_round_trip_and_both_paths(nlp):
    "Random text round-trips; the str.split fast path and the regex path give the same tokens."
    rng, tok = random.Random(0), nlp.tokenizer
    for _ in range(3000):
        text = _random_text(rng)
        doc = nlp(text)
        assert doc.text == text, repr(text)
        fast = tok._words(text)[:2]
        regex = tok._words_regex(text)[:2]
        assert fast == regex, repr(text)
        labelled, spaces = tok._labelled(text)
        assert ([t[1] for t in labelled], spaces) == fast, repr(text)

def test_random_code_points_round_trip(nlp):
    "Code points of every plane in use, alone and next to letters and punctuation, round-trip."
    tok = nlp.tokenizer
    for cp in list(range(0, 0x3000)) + list(range(0x3000, 0x30000, 41)) + list(range(0xE0000, 0x110000, 997)):
        c = chr(cp)
        if unicodedata.category(c) == "Cs": continue
        for text in (c, f"a{c}b", f"{c}.", f"({c}) "):
            words, spaces, _, _ = tok._words(text)
            assert "".join(w + " " * s for w, s in zip(words, spaces)) == text, hex(cp)
        assert nlp(f"x{c}.").text == f"x{c}.", hex(cp)

def test_whitespace_tokens(nlp):
    cases = {"a  b": [("a", " "), (" ", ""), ("b", "")], " a": [(" ", ""), ("a", "")], "a ": [("a", " ")],
             "a   ": [("a", " "), ("  ", "")], "a\n b": [("a", ""), ("\n ", ""), ("b", "")],
             "a \nb": [("a", " "), ("\n", ""), ("b", "")], "\u00a0hi": [("\u00a0", ""), ("hi", "")]}
    for text, expected in cases.items():
        assert [(t.text, t.whitespace_) for t in nlp(text)] == expected, repr(text)
    assert [t.text for t in nlp("a\u00a0b")] == ["a", "\u00a0", "b"]
    assert nlp("x \u00a0")[1].norm_ == "  "

def test_english_exceptions(nlp):
    cases = {"I'm (don't!)": ["I", "'m", "(", "do", "n't", "!", ")"], "Can't won't": ["Ca", "n't", "wo", "n't"],
             "gonna": ["gon", "na"], "Dr. Smith, e.g.": ["Dr.", "Smith", ",", "e.g."], "5pm": ["5", "pm"],
             "U.S.": ["U.S."], "hello:)": ["hello", ":)"], "we'd've": ["we", "'d", "'ve"], "ill": ["ill"],
             "don’t": ["do", "n’t"], "http://x.org/a.": ["http://x.org/a", "."], "5-year-old": ["5", "-", "year", "-", "old"]}
    for text, expected in cases.items():
        assert [t.text for t in nlp(text)] == expected, text
    doc = nlp("don't")
    assert [t.norm_ for t in doc] == ["do", "not"]

def test_special_cases_and_cache():
    nlp = blank("en")
    assert [t.text for t in nlp("dunno")] == ["dunno"]
    nlp.tokenizer.add_special_case("dunno", [{ORTH: "du"}, {"ORTH": "n"}, {"ORTH": "no", "NORM": "know"}])
    doc = nlp("(dunno)")
    assert [t.text for t in doc] == ["(", "du", "n", "no", ")"] and doc[3].norm_ == "know"
    with pytest.raises(ValueError, match="must join"): nlp.tokenizer.add_special_case("dunno", [{ORTH: "dont"}])
    with pytest.raises(ValueError, match="only ORTH and NORM"):
        nlp.tokenizer.add_special_case("dunno", [{ORTH: "dunno", "TAG": "VB"}])
    with pytest.raises(ValueError, match="no ORTH"): nlp.tokenizer.add_special_case("dunno", [{NORM: "x"}])
    # a rule change flushes the cache
    assert [t.text for t in nlp("a-b")] == ["a", "-", "b"]
    nlp.tokenizer.infix_finditer = None
    assert [t.text for t in nlp("a-b")] == ["a-b"]

def test_serialization_round_trip(nlp, tmp_path):
    texts = ["Hello:) (don't) e.g. http://x.org/a. 5km U.S.", "a.B x.:) C++!"] + UNICODE_TEXTS
    other = Tokenizer(Vocab()).from_bytes(nlp.tokenizer.to_bytes())
    assert [[t.text for t in other(x)] for x in texts] == [[t.text for t in nlp(x)] for x in texts]
    nlp.tokenizer.to_disk(tmp_path / "tokenizer")
    again = Tokenizer(Vocab()).from_disk(tmp_path / "tokenizer")
    assert again.rules == nlp.tokenizer.rules
    (tmp_path / "bad").write_text("{not json", encoding="utf8")
    with pytest.raises(ValueError, match="bad"): Tokenizer(Vocab()).from_disk(tmp_path / "bad")
    with pytest.raises(ValueError, match="Corrupt"): Tokenizer(Vocab()).from_bytes(b"\x93\x01")

def test_pipe_and_language(nlp):
    texts = [f"Text {i}: don't stop." for i in range(50)]
    assert [d.text for d in nlp.pipe(texts, batch_size=7)] == texts
    assert [len(d) for d in nlp.tokenizer.pipe(texts)] == [len(nlp(t)) for t in texts]
    assert get_lang_class("xx")().lang == "xx"
    with pytest.raises(ImportError, match="Available languages"): get_lang_class("qq")
    with pytest.raises(TypeError): nlp(42)
