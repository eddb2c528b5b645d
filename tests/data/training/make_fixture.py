"""Regenerate the small labeled training fixture (records in the dataset format, 4 tasks).

python tests/data/training/make_fixture.py   (deterministic; labels follow the finance spec)
"""

import json
import random
from pathlib import Path

COMPANIES = ["Apple", "Infosys", "Tesla", "Sony", "Siemens", "Alibaba", "Walmart", "Reliance"]
METRICS = ["revenue", "net profit", "EBITDA", "operating margin", "free cash flow"]
CURRENCIES = [("₹", "INR", "crore"), ("$", "USD", "million"), ("€", "EUR", "million")]


def canonical(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def lookup(rng):
    c, m, y = rng.choice(COMPANIES), rng.choice(METRICS), rng.randint(2015, 2025)
    text = f"What was {c}'s {m} in FY{y}?"
    dates = [{"phrase": f"FY{y}", "date_period": "FY", "start": f"{y}-01-01", "end": f"{y}-12-31"}]
    ents = [{"name": c, "type": "COMPANY"}, {"name": m, "type": "METRIC"}]
    return text, "LOOKUP", ents, {"currency": None, "symbol": None, "mention": "none"}, dates


def compare(rng):
    a, b = rng.sample(COMPANIES, 2)
    m, y = rng.choice(METRICS), rng.randint(2015, 2025)
    text = f"Compare {a} and {b} {m} in {y}"
    dates = [{"phrase": str(y), "date_period": "YEAR", "start": f"{y}-01-01", "end": f"{y}-12-31"}]
    ents = [{"name": a, "type": "COMPANY"}, {"name": b, "type": "COMPANY"},
            {"name": m, "type": "METRIC"}]  # fmt: skip
    return text, "COMPARE", ents, {"currency": None, "symbol": None, "mention": "none"}, dates


def screen(rng):
    sym, code, unit = rng.choice(CURRENCIES)
    n, m = rng.choice([50, 100, 250, 1000]), rng.choice(METRICS)
    text = f"Companies with {m} above {sym}{n} {unit}"
    cur = {"currency": code, "symbol": sym, "mention": "explicit"}
    return text, "SCREEN", [{"name": m, "type": "METRIC"}], cur, []


def definition(rng):
    m = rng.choice(METRICS)
    text = f"What is {m}?"
    return (
        text,
        "DEFINITION",
        [{"name": m, "type": "METRIC"}],
        {"currency": None, "symbol": None, "mention": "none"},
        [],
    )


def make(n, rng):
    out = []
    for i in range(n):
        text, cat, ents, cur, dates = rng.choice([lookup, compare, screen, definition])(rng)
        labels = {"query_classifier": {"category": cat}, "entity_extractor": ents,
                  "currency_identifier": cur, "date_interpretation": dates}  # fmt: skip
        for task, value in labels.items():
            out.append({"id": f"fx-{i}", "family": f"fx-{i}", "input": text, "task": task,
                        "output": canonical(value), "context": {"as_of": "2026-01-15"}})  # fmt: skip
    return out


if __name__ == "__main__":
    rng = random.Random(7)
    here = Path(__file__).parent
    for split, n in (("train", 60), ("val", 10), ("test", 10)):
        rows = make(n, rng)
        (here / f"{split}.jsonl").write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        )
