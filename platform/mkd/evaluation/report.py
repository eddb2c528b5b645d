"""Evaluation reports: JSON (the record), Markdown (for people and PRs), self-contained HTML.

The HTML page embeds its plots as base64 PNGs, so it opens anywhere with no other file: per-task
score bars for every model, latency distributions, and tokens per query.
"""

from __future__ import annotations

import base64
import html
import io
import json
from typing import Any

from mkd.config.evaluation import EvaluationConfig

ROLE_TITLES = {
    "teacher": "teacher",
    "student": "student",
    "base": "base (student prompt)",
    "base_fewshot": "base (teacher's few-shot prompt)",
}
TABLE_ROLES = ("teacher", "student", "base")


def human_bytes(n: float | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


# -- the before/after table ----------------------------------------------------------------------
def before_after(models: dict[str, dict], cfg: EvaluationConfig) -> list[dict[str, str]]:
    """The article's table, with nothing implied: agreement per task with its 95% interval (the
    teacher is the reference, 1 by construction), the score against human gold labels, latency
    per request beside per request, and every assumed figure marked with where it comes from."""
    cols = [r for r in TABLE_ROLES if r in models]
    rows: list[dict[str, str]] = []

    def row(metric: str, values: dict[str, str], change: str = "") -> None:
        rows.append({"metric": metric, **{r: values.get(r, "-") for r in cols}, "change": change})

    ov = {r: models[r]["overall"] for r in cols}
    gate = cfg.default_gate
    for task in sorted(models.get("student", models[cols[0]])["tasks"]):
        cells = {r: _agreement_cell(models[r]["tasks"].get(task)) for r in cols}
        row(f"{task}: agreement with teacher [95% interval]", _reference(cells, cols))
    means = {r: f"{ov[r]['agreement']:.3f}" for r in cols}
    row(
        "mean agreement with teacher",
        _reference(means, cols),
        f"goal >= 0.95; gate per task >= {gate.min_agreement:.2f}, "
        f"interval low >= {gate.min_agreement_lower_bound:.2f}, n >= {gate.min_items}",
    )
    row("score vs human gold labels", {r: _gold_cell(models[r]) for r in cols},
        "the teacher's own errors show here")  # fmt: skip
    lat = {r: models[r].get("request_latency", {}).get("p50_s") for r in cols}
    row(
        "latency / request, p50 (s)",
        {r: "-" if v is None else f"{v:.3f}" for r, v in lat.items()},
        _ratio_change(lat, "faster") + "; one request at a time on each side",
    )
    sizes_txt = {r: human_bytes(models[r].get("size_bytes")) for r in cols}
    if "teacher" in cols:
        sizes_txt["teacher"] = f"{cfg.teacher_size} (assumed: evaluation.teacher_size)"
    if "student" in cols and models["student"].get("size_note"):
        sizes_txt["student"] += f" ({models['student']['size_note']})"
    row("model size", sizes_txt)
    tokens = {r: ov[r]["prompt_tokens"] + ov[r]["output_tokens"] for r in cols}
    row("tokens / query", {r: f"{v:.0f}" for r, v in tokens.items()},
        _ratio_change(tokens, "fewer"))  # fmt: skip
    cost = {r: cost_per_1k(models[r], cfg, r) for r in cols}
    row(
        "cost / 1k queries (USD, assumed prices)",
        {r: f"{v:.4f}" for r, v in cost.items()},
        _ratio_change(cost, "cheaper") + f"; {_price_note(cfg)}",
    )
    return rows


def _reference(cells: dict[str, str], cols: list[str]) -> dict[str, str]:
    """The teacher's column of an agreement row: it is what the others agree with."""
    if "teacher" in cols:
        cells = {**cells, "teacher": "1 (the reference)"}
    return cells


def _agreement_cell(m: dict | None) -> str:
    if m is None:
        return "-"
    if "agreement_low" not in m:  # reports written before intervals existed
        return f"{m['agreement']:.3f}"
    clustered = 0 < m.get("families", 0) < m["count"]  # the interval counts families, say so
    families = f" in {m['families']} families" if clustered else ""
    return (
        f"{m['agreement']:.3f} [{m['agreement_low']:.2f}, {m['agreement_high']:.2f}] "
        f"n={m['count']}{families}"
    )


def _gold_cell(model: dict) -> str:
    """Mean gold score over the tasks that have gold items, with their count."""
    scored = [m for m in model["tasks"].values() if m.get("gold_score") is not None]
    if not scored:
        return "- (no gold items)"
    n = sum(m["gold_count"] for m in scored)
    return f"{sum(m['gold_score'] for m in scored) / len(scored):.3f} (n={n})"


def _price_note(cfg: EvaluationConfig) -> str:
    """Where each role's price comes from, as configured (evaluation.prices)."""
    parts = []
    for role, p in sorted(cfg.prices.items()):
        if p.input_per_1m or p.output_per_1m:
            parts.append(f"{role} ${p.input_per_1m:g}/${p.output_per_1m:g} per 1M in/out tokens")
        if p.instance_per_hour:
            parts.append(f"{role} ${p.instance_per_hour:g}/h of instance, batched")
    return "assumed: " + ", ".join(parts) + " (evaluation.prices)"


def cost_per_1k(model: dict, cfg: EvaluationConfig, role: str) -> float:
    price = cfg.prices.get(role) or cfg.prices.get(role.split("_")[0])
    if price is None:
        return 0.0
    ov = model["overall"]
    return price.per_1k_queries(ov["prompt_tokens"], ov["output_tokens"], ov["seconds_per_query"])


def _ratio_change(values: dict[str, float | None], word: str) -> str:
    t, s = values.get("teacher"), values.get("student")
    if not t or s is None:
        return ""
    saved = 1 - s / t
    return (
        f"{saved:.0%} {word}"
        if saved >= 0
        else f"{-saved:.0%} {'more' if word != 'faster' else 'slower'}"
    )


# -- Markdown -----------------------------------------------------------------------------------
def _md_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def score_table(report: dict) -> tuple[list[str], list[list[str]]]:
    """Per task: each model's score (agreement with the teacher in brackets for the student)."""
    roles = list(report["models"])
    tasks = sorted({t for m in report["models"].values() for t in m["tasks"]})
    header = ["task", *[ROLE_TITLES.get(r, r) for r in roles]]
    rows = []
    for task in tasks:
        cells = [task]
        for r in roles:
            m = report["models"][r]["tasks"].get(task)
            cells.append("-" if m is None else f"{m['score']:.3f}")
        rows.append(cells)
    return header, rows


def detail_rows(model: dict) -> list[list[str]]:
    return [
        [
            t, str(m["count"]), _fmt(m["score"]), _fmt(m["precision"]), _fmt(m["f1"]),
            f"{m['violation_rate']:.1%}", _interval_text(m), _fmt(m["latency_p50_s"]),
            _fmt(m["latency_p95_s"]), f"{m['prompt_tokens']:.0f}", f"{m['output_tokens']:.1f}",
            "-" if m["gold_score"] is None else f"{m['gold_score']:.3f} (n={m['gold_count']})",
        ]
        for t, m in sorted(model["tasks"].items())
    ]  # fmt: skip


def _interval_text(m: dict) -> str:
    if "agreement_low" not in m:
        return _fmt(m["agreement"])
    return f"{m['agreement']:.3f} [{m['agreement_low']:.2f}, {m['agreement_high']:.2f}]"


DETAIL_HEADER = [
    "task", "n", "score", "precision", "F1", "schema violations", "agreement [95%]", "p50 s", "p95 s",
    "prompt tok", "output tok", "gold score",
]  # fmt: skip


def _decoding(report: dict) -> str:
    """How local models answered (reports written before the field existed decoded freely)."""
    if report.get("decoding", "free") == "constrained":
        return "local models decoded under each task's JSON Schema, as served"
    return "local models decoded freely (no schema constraint)"


def engine_line(model: dict) -> str:
    """Which engine scored a model, and why when it is not the one that serves it (reports
    written before the field existed name none)."""
    engine = model.get("engine")
    if not engine:
        return ""
    note = model.get("engine_note")
    return f"Scored by the `{engine}` engine" + (f" ({note})" if note else "") + "."


def to_markdown(report: dict) -> str:
    """The whole report as Markdown."""
    out = [f"# Evaluation {report['id']}", ""]
    out.append(
        f"Dataset `{report['dataset']}` split `{report['split']}`, {report['items']} items; "
        f"candidate `{report['candidate']['ref']}`; {_decoding(report)}; "
        f"created {report['created_at']}."
    )
    out += ["", "## Score per task", "", _md_table(*score_table(report))]
    for role, model in report["models"].items():
        out += ["", f"## {ROLE_TITLES.get(role, role)}: `{model['ref']}`", ""]
        if engine_line(model):
            out += [engine_line(model), ""]
        out.append(_md_table(DETAIL_HEADER, detail_rows(model)))
    if report.get("gates"):
        verdict = "PASSED" if report["gates"]["passed"] else "FAILED"
        out += ["", f"## Gates: {verdict}", ""]
        out += [f"- {_gate_line(g)}" for g in report["gates"]["results"]]
    if report.get("before_after"):
        out += ["", "## Before / after", ""]
        ba = report["before_after"]
        header = list(ba[0])
        out.append(_md_table(header, [[r[h] for h in header] for r in ba]))
    out += _parity_markdown(report.get("guards_parity"))
    for note in report.get("notes", []):
        out += ["", f"> {note}"]
    return "\n".join(out) + "\n"


def _parity_markdown(parity: dict | None) -> list[str]:
    """Guard decisions on the red-team set, teacher path vs student path."""
    if not parity:
        return []
    out = ["", "## Guards: teacher path vs student path (red-team set)", ""]
    out.append(
        f"{parity['n']} queries; decisions differ on {parity['differ']} "
        f"(rate {parity['differ_rate']:.3f}, goal 0)."
    )
    for path in ("teacher", "student"):
        cells = ", ".join(
            f"{fam} P {_ratio(m['precision'])} R {_ratio(m['recall'])}"
            for fam, m in parity[path]["by_family"].items()
        )
        out.append(f"- {path} path (accuracy {parity[path]['accuracy']:.3f}): {cells}")
    return out


def _ratio(value: float | None) -> str:
    """Two decimals, or n/a where the ratio has no denominator (no flagged item of a family)."""
    return "n/a" if value is None else f"{value:.2f}"


def _gate_line(g: dict) -> str:
    op = "<=" if g["check"] == "violation_rate" else ">="
    mark = "pass" if g["passed"] else "**FAIL**"
    digits = 0 if g["check"] == "items" else 3
    return (
        f"{mark} {g['task']}: {g['check']} {g['value']:.{digits}f} {op} {g['threshold']:.{digits}f}"
    )


# -- plots and HTML -----------------------------------------------------------------------------
def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def plots(report: dict) -> dict[str, str]:
    """Base64 PNGs: per-task scores, latency distributions, tokens per query."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    roles = list(report["models"])
    tasks = sorted({t for m in report["models"].values() for t in m["tasks"]})
    titles = [ROLE_TITLES.get(r, r).replace(" (", "\n(") for r in roles]
    out = {}

    fig, ax = plt.subplots(figsize=(9, 4))
    width = 0.8 / max(1, len(roles))
    for k, role in enumerate(roles):
        vals = [report["models"][role]["tasks"].get(t, {}).get("score", 0.0) for t in tasks]
        ax.bar([i + k * width for i in range(len(tasks))], vals, width, label=titles[k])
    ax.set_xticks([i + width * (len(roles) - 1) / 2 for i in range(len(tasks))], tasks)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("score")
    ax.set_title("Score per task")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    out["scores"] = _png(fig)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(9, 3.5))
    data = [[max(v, 1e-5) for v in report["models"][r]["samples"]["latency_s"]] for r in roles]
    ax.boxplot(data, tick_labels=titles, showfliers=True)
    ax.set_yscale("log")
    ax.set_ylabel("seconds per query (log)")
    ax.set_title("Latency distribution")
    out["latency"] = _png(fig)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(9, 3.5))
    prompt = [report["models"][r]["overall"]["prompt_tokens"] for r in roles]
    output = [report["models"][r]["overall"]["output_tokens"] for r in roles]
    ax.bar(titles, prompt, label="prompt tokens")
    ax.bar(titles, output, bottom=prompt, label="output tokens")
    ax.set_ylabel("tokens per query")
    ax.set_title("Tokens per query")
    ax.legend(fontsize=8)
    out["tokens"] = _png(fig)
    plt.close(fig)
    return out


_CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;
text-align:right}td:first-child,th:first-child{text-align:left}th{background:#f3f3f3}
.pass{color:#18794e}.fail{color:#c62828;font-weight:bold}img{max-width:100%}"""


def html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def to_html(report: dict) -> str:
    """A self-contained page: tables and the plots inlined as data: URIs."""
    images = plots(report)
    e = html.escape
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>MKD evaluation {e(report['id'])}"
        f"</title><style>{_CSS}</style></head><body>",
        f"<h1>Evaluation {e(report['id'])}</h1>",
        f"<p>Dataset <code>{e(report['dataset'])}</code>, split <code>{e(report['split'])}</code>, "
        f"{report['items']} items; candidate <code>{e(report['candidate']['ref'])}</code>; "
        f"{e(_decoding(report))}.</p>",
        "<h2>Score per task</h2>",
        html_table(*score_table(report)),
        f"<img id='plot-scores' alt='score per task' src='data:image/png;base64,{images['scores']}'>",
    ]
    if report.get("before_after"):
        ba = report["before_after"]
        parts += [
            "<h2>Before / after</h2>",
            html_table(list(ba[0]), [list(r.values()) for r in ba]),
        ]
    if report.get("gates"):
        ok = report["gates"]["passed"]
        parts.append(
            f"<h2>Gates: <span class='{'pass' if ok else 'fail'}'>{'PASSED' if ok else 'FAILED'}</span></h2><ul>"
        )
        parts += [
            f"<li class='{'pass' if g['passed'] else 'fail'}'>{e(_gate_line(g).replace('**', ''))}</li>"
            for g in report["gates"]["results"]
        ]
        parts.append("</ul>")
    parts += [
        "<h2>Latency</h2>",
        f"<img id='plot-latency' alt='latency distribution' src='data:image/png;base64,{images['latency']}'>",
        "<h2>Tokens per query</h2>",
        f"<img id='plot-tokens' alt='tokens per query' src='data:image/png;base64,{images['tokens']}'>",
    ]
    for role, model in report["models"].items():
        parts.append(f"<h2>{e(ROLE_TITLES.get(role, role))}: <code>{e(model['ref'])}</code></h2>")
        if engine_line(model):
            parts.append(f"<p class='engine'>{e(engine_line(model).replace('`', ''))}</p>")
        parts.append(html_table(DETAIL_HEADER, detail_rows(model)))
    parts += [f"<p><em>{e(n)}</em></p>" for n in report.get("notes", [])]
    parts.append("</body></html>")
    return "\n".join(parts)


def to_json(report: dict) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False, default=str)
