"""currency_identifier rules of the reference teacher."""

from __future__ import annotations

import pytest
from mkd.tasks import load_pack
from mkd.teachers.reference import ReferenceLabeler


@pytest.fixture(scope="module")
def labeler() -> ReferenceLabeler:
    return ReferenceLabeler(load_pack("finance"))


@pytest.mark.parametrize(
    ("text", "currency", "symbol", "mention"),
    [
        ("List Indian startups with more than ₹1,000 crore in ARR", "INR", "₹", "explicit"),
        ("US tech companies with EBITDA of over $100m", "USD", "$", "explicit"),
        ("penny stocks under rs 10 on nse", "INR", "₹", "explicit"),
        ("how many bucks did uber make last quarter", "USD", "$", "explicit"),
        ("Revolut revenue 2024 in quid", "GBP", "£", "explicit"),
        ("ICBC net profit for 2024 in yuan", "CNY", "¥", "explicit"),
        ("Hyundai's market cap in won", "KRW", "₩", "explicit"),
        ("Novo Nordisk revenue in Danish kroner", "DKK", "kr", "explicit"),
        ("How has the yen moved against the dollar in 2024?", "JPY", "¥", "explicit"),
        ("HK$ revenue of Tencent", "HKD", "HK$", "explicit"),
        ("How many unicorns did AI create since 2023", "USD", "$", "implicit"),
        ("Indian companies with revenue over 500 crore", "INR", "₹", "implicit"),
        ("What was Apple's revenue in FY2023?", "USD", "$", "implicit"),
        ("Toyota vs Honda net sales in FY2023", "JPY", "¥", "implicit"),
        ("biggest fintech startups in Europe by valuation", "EUR", "€", "implicit"),
        ("Largest IPOs on Nasdaq in 2024 by amount raised", "USD", "$", "implicit"),
        ("Sales trend over the last 7 fiscal years", None, None, "none"),
        ("Why did Tesla's margins fall in 2023?", None, None, "none"),
        ("Stocks on the NSE with P/E below 15", None, None, "none"),
        ("Samsung won the contract", None, None, "none"),
        ("What is EBITDA?", None, None, "none"),
        # a DEFINITION names a currency only when one is written or a term always means one
        ("What is the meaning of PAT in Indian financial statements?", None, None, "none"),
        (
            "Quick question: how is market cap calculated for Japanese companies?",
            None,
            None,
            "none",
        ),
        ("What does a $1bn valuation mean?", "USD", "$", "explicit"),
        ("What is a lakh?", "INR", "₹", "implicit"),
        ("Can you tell me what is a decacorn?", "USD", "$", "implicit"),
    ],
)
def test_currency(labeler: ReferenceLabeler, text: str, currency, symbol, mention) -> None:
    got = labeler.predict("currency_identifier", text)
    assert got == {"currency": currency, "symbol": symbol, "mention": mention}


def test_bare_yen_sign_is_cny_for_chinese_queries(labeler: ReferenceLabeler) -> None:
    assert labeler.predict("currency_identifier", "Alibaba revenue ¥900bn")["currency"] == "CNY"
    assert labeler.predict("currency_identifier", "Sony revenue ¥13tn")["currency"] == "JPY"
