import json

import pytest
from mkd.guards.chain import empty_from_schema


def reason(chain, task, query, value) -> str:
    return chain.check_output(task, query, value).reason


def test_valid_answers_pass(chain):
    q = "Compare Amazon and Walmart net sales in India"
    ents = [{"name": "Amazon", "type": "COMPANY"}, {"name": "net sales", "type": "METRIC"}]
    assert reason(chain, "entity_extractor", q, ents) == "ok"
    dates = [{"phrase": "since 2023", "date_period": "YEAR", "start": "2023-01-01", "end": None}]
    assert reason(chain, "date_interpretation", "unicorns since 2023", dates) == "ok"
    cur = {"currency": "INR", "symbol": "₹", "mention": "explicit"}
    assert reason(chain, "currency_identifier", "₹1,000 crore", cur) == "ok"
    assert (
        reason(chain, "query_classifier", "What is EBITDA?", '{"category": "DEFINITION"}') == "ok"
    )


def test_entity_not_in_query_is_blocked(chain):
    q = "Compare Amazon and Walmart net sales"
    bad = [{"name": "Amazon", "type": "COMPANY"}, {"name": "Microsoft", "type": "COMPANY"}]
    assert reason(chain, "entity_extractor", q, bad) == "output.entity_not_in_query"
    # whole words only: "AI" is not in "said"
    assert (
        reason(chain, "entity_extractor", "Apple said", [{"name": "AI", "type": "SECTOR"}]) != "ok"
    )
    # case and spacing do not matter
    assert (
        reason(chain, "entity_extractor", "NET  Sales", [{"name": "net sales", "type": "METRIC"}])
        == "ok"
    )


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ({"start": "2023-02-30", "end": None}, "output.date_invalid"),
        ({"start": "2024-01-01", "end": "2023-12-31"}, "output.date_order"),
        (
            {"start": "2023-01-01", "end": "2023-12-31", "phrase": "FY2022"},
            "output.phrase_not_in_query",
        ),
    ],
)
def test_date_checks(chain, item, expected):
    value = [{"phrase": "FY2023", "date_period": "FY", **item}]
    assert reason(chain, "date_interpretation", "Apple revenue in FY2023", value) == expected


def test_currency_enum_schema_and_pii(chain):
    cur = {"currency": "ZZZ", "symbol": "z", "mention": "explicit"}
    assert reason(chain, "currency_identifier", "q", cur) == "output.currency_unknown"
    assert reason(chain, "query_classifier", "q", {"category": "GOSSIP"}) == "output.category"
    assert reason(chain, "query_classifier", "q", {"label": "LIST"}) == "output.schema"
    assert reason(chain, "query_classifier", "q", "not json") == "output.schema"
    leak = [{"name": "rahul@example.com", "type": "COMPANY"}]
    assert reason(chain, "entity_extractor", "mail rahul@example.com", leak) == "output.pii"


def test_safe_empty_answers_are_schema_valid(chain, pack):
    assert chain.safe_empty("entity_extractor") == []
    assert chain.safe_empty("date_interpretation") == []
    cur = chain.safe_empty("currency_identifier")
    assert cur == {"currency": None, "symbol": None, "mention": "none"}
    assert pack.task("currency_identifier").schema_errors(cur) == []
    assert chain.safe_empty("query_classifier") is None  # no null category in the enum
    assert empty_from_schema(pack.task("query_classifier")) is None


def test_empty_answers_override(pack):
    from mkd.config.guards import GuardsConfig
    from mkd.guards import GuardChain

    chain = GuardChain(GuardsConfig(empty_answers={"query_classifier": {"category": "LOOKUP"}}))
    assert chain.safe_empty("query_classifier") == {"category": "LOOKUP"}
    assert json.dumps(chain.safe_empty("entity_extractor")) == "[]"
