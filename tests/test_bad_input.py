"""Bad and hostile input (issue 20): each case gives the right result fast, or a clear error naming what is wrong."""
import time
import pytest
from nlpnb.language import blank

@pytest.fixture(scope="module")
def nlp(): return blank("en")

def timed(fn):
    t0 = time.perf_counter(); out = fn(); return out, time.perf_counter() - t0

def test_long_emoji_run_is_linear(nlp):
    nlp.tokenizer("warm up")
    doc, secs = timed(lambda: nlp.tokenizer("\U0001F600" * 20_000))
    assert len(doc) == 20_000 and all(t.text == "\U0001F600" for t in doc)
    assert secs < 0.8, f"20k emoji took {secs:.2f} s"

def test_long_bracket_run_is_linear(nlp):
    n = 16_000
    doc, secs = timed(lambda: nlp.tokenizer("(" * n + "a" + ")" * n))
    assert [t.text for t in doc] == ["("] * n + ["a"] + [")"] * n
    assert secs < 0.8, f"16k brackets took {secs:.2f} s"

def test_long_dot_run_keeps_one_suffix(nlp):
    doc = nlp.tokenizer("x" * 100 + "." * 200)   # the unbounded suffix rule \.\.+ still takes the whole run
    assert [t.text for t in doc] == ["x" * 100, "." * 200]

# Example.from_dict: labels are strings, cats a dict of numbers, predicted a Doc

@pytest.fixture
def doc(nlp): return nlp.make_doc("Ada Lovelace was born in London")

def test_example_integer_entity_label(doc):
    from nlpnb.training.example import Example
    with pytest.raises(ValueError, match="label must be a string"): Example.from_dict(doc, {"entities": [(25, 31, 5)]})

def test_example_predicted_none():
    from nlpnb.training.example import Example
    with pytest.raises(ValueError, match="'predicted' must be a Doc"): Example.from_dict(None, {})

def test_example_cats_list(doc):
    from nlpnb.training.example import Example
    with pytest.raises(ValueError, match="'cats' must be a dict"): Example.from_dict(doc, {"cats": ["POS"]})

def test_example_cats_not_number(doc):
    from nlpnb.training.example import Example
    with pytest.raises(ValueError, match="'cats' score of 'POS' must be a number"): Example.from_dict(doc, {"cats": {"POS": "yes"}})
