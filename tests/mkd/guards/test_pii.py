import pytest
from mkd.config.guards import PiiGuardConfig
from mkd.guards.pii import check, find_pii

CFG = PiiGuardConfig()


def kinds(text: str, cfg: PiiGuardConfig = CFG) -> list[str]:
    return [s.kind for s in find_pii(text, cfg)]


@pytest.mark.parametrize(
    ("text", "kind", "redacted"),
    [
        ("mail a.b+x@mail.co.in now", "email", "mail [EMAIL] now"),
        ("priya [at] gmail [dot] com", "email", "[EMAIL]"),
        ("call +91 98765 43210 today", "phone", "call [PHONE] today"),
        ("call (415) 555-2671 today", "phone", "call [PHONE] today"),
        ("call +44 20 7946 0958 today", "phone", "call [PHONE] today"),
        ("card 4111 1111 1111 1111 ok", "card", "card [CARD] ok"),
        ("amex 3782 822463 10005 ok", "card", "amex [CARD] ok"),
        ("to GB82 WEST 1234 5698 7654 32 and", "iban", "to [IBAN] and"),
        ("pan bnzpm2501f", "pan", "pan [PAN]"),
        ("id 2345 6781 2346 ok", "aadhaar", "id [AADHAAR] ok"),
        ("ssn 123-45-6789, ok", "ssn", "ssn [SSN], ok"),
        ("pay ravi.k@okhdfcbank now", "upi", "pay [UPI] now"),
        ("account number 50100234567890 at", "account", "account number [ACCOUNT] at"),
    ],
)
def test_each_kind_is_found_and_redacted(text, kind, redacted):
    out, findings = check(text, CFG)
    assert [f.reason for f in findings] == [f"pii.{kind}"]
    assert out == redacted


def test_checksums_decide_without_a_keyword():
    assert kinds("ref 4111 1111 1111 1112") == []  # Luhn fails, no card keyword
    assert kinds("card 4111 1111 1111 1112") == ["card"]  # a typo is still a card
    assert kinds("ref 2345 6781 2347") == []  # Verhoeff fails
    assert kinds("aadhaar 1234 5678 9012") == ["aadhaar"]
    assert kinds("IBAN GB82 WEST 1234 5698 7654 33") == []  # mod-97 fails


def test_two_ibans_in_a_row_are_both_found():
    assert kinds("GB82 WEST 1234 5698 7654 32 and DE89370400440532013000") == ["iban", "iban"]


@pytest.mark.parametrize(
    "text",
    [
        "HDFC Bank deposits of ₹23,76,887 crore in FY24",
        "Revenue of $1,000,000,000 from 2019-2025 for 10 companies",
        "Apple's stock price on 2024-03-15 vs 2023-03-15",
        "ISIN INE002A01018 on the NSE",
        "Nifty 50 at 22,000 and Sensex at 72,500.50",
        "Companies with more than 10000 employees",
        "Q3 FY24 EBITDA margin of 12.5%",
    ],
)
def test_financial_numbers_are_not_pii(text):
    assert kinds(text) == []


def test_configured_kinds_and_block_action():
    only_email = PiiGuardConfig(kinds=["email"], action="block")
    _, findings = check("a@b.com +91 98765 43210", only_email)
    assert [(f.reason, f.action.value) for f in findings] == [("pii.email", "block")]


def test_redaction_is_idempotent():
    once, _ = check("mail x@y.com or +91 98765 43210", CFG)
    twice, findings = check(once, CFG)
    assert twice == once and findings == []
