import json

import pytest
from mkd.config.guards import DomainGuardConfig
from mkd.guards.domain import check, load_lexicon, score
from mkd.tasks import load_pack

PACK = load_pack("finance")


@pytest.fixture(scope="module")
def lex():
    return load_lexicon(PACK.data_file("data/gazetteers.yaml"), PACK.plugin("vocabulary"))


@pytest.mark.parametrize(
    "text",
    [
        "What is the capital of France?",
        "Give me a recipe for butter chicken",
        "Tell me a joke about cats",
        "hello, how are you?",
        "How many legs does a spider have?",
    ],
)
def test_off_topic_queries_are_out_of_domain(lex, text):
    (finding,) = check(text, DomainGuardConfig(), lex)
    assert finding.reason == "ood" and finding.respond_empty


@pytest.mark.parametrize(
    "text",
    ["What is EBITDA?", "Tesla vs BYD", "Indian startups with more than ₹1,000 crore in ARR"],
)
def test_finance_queries_are_in_domain(lex, text):
    assert check(text, DomainGuardConfig(), lex) == []


def test_actions():
    lex = load_lexicon(None, PACK.plugin("vocabulary"))  # the pack vocabulary alone
    assert check("hello", DomainGuardConfig(action="block"), lex)[0].respond_empty is False
    assert check("hello", DomainGuardConfig(action="log"), lex)[0].action.value == "allow"
    assert check("hello", DomainGuardConfig(threshold=-10), lex) == []


def test_curated_finance_queries_are_almost_all_in_domain(lex):
    """Measured false-positive rate of the domain guard on the pack's 426 curated queries."""
    lines = PACK.data_file("data/curated.jsonl").read_text(encoding="utf-8").splitlines()
    queries = [json.loads(line)["input"] for line in lines if line.strip()]
    flagged = [q for q in queries if score(q, lex) < DomainGuardConfig().threshold]
    print(f"domain guard false positives: {len(flagged)}/{len(queries)}")
    assert len(flagged) / len(queries) <= 0.01
