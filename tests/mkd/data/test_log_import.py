"""Teacher call logs (chat-completions JSONL) as labeled records: every line a record or a
quarantine row with its line number and reason, the guards applied, merged by the build."""

from __future__ import annotations

import json

from mkd.cli.main import app
from mkd.config import parse_config
from mkd.config.data import LogImportConfig
from mkd.data.build import stage_finish
from mkd.data.log_import import import_log_lines, load_imports, store_import
from mkd.data.prompts_io import to_jsonl
from mkd.guards import GuardChain
from mkd.storage import open_store
from mkd.store_layout import work_prefix
from rich.console import Console
from typer.testing import CliRunner

CLASSIFIED = {"category": "LOOKUP"}


def _call(query: str, answer: object, task: str | None = "query_classifier", **extra) -> dict:
    content = answer if isinstance(answer, str) else json.dumps(answer)
    line = {
        "request": {
            "model": extra.pop("model", "teacher-8b"),
            "messages": [
                {"role": "system", "content": extra.pop("system", "You label finance queries.")},
                {"role": "user", "content": query},
            ],
        },
        "response": {
            "created": 1767225600,  # 2026-01-01 UTC
            "choices": [
                {
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": extra.pop("finish_reason", "stop"),
                }
            ],
        },
        "metadata": {"task": task} if task else {},
    }
    return line | extra


def _jsonl(lines: list) -> bytes:
    return b"".join((x if isinstance(x, bytes) else json.dumps(x).encode()) + b"\n" for x in lines)


LOG = [
    _call("Query: TCS revenue FY24\nas_of: 2025-06-30", CLASSIFIED),  # 1: MKD's teacher prompt
    _call("Infosys net profit last quarter", "```json\n" + json.dumps(CLASSIFIED) + "\n```"),
    b'{"request": ',  # 3: cut off
    _call("HDFC deposits", CLASSIFIED, task=None),  # 4: no task
    _call("HDFC deposits", CLASSIFIED, task="stock_picker"),  # 5
    _call("Wipro margin", {"category": "GOSSIP"}),  # 6: not in the schema
    _call("Wipro margin trend", CLASSIFIED, finish_reason="length"),  # 7
    _call("tcs  revenue FY24", CLASSIFIED),  # 8: line 1 again (normalised), same answer
    _call("TCS revenue FY24", {"category": "TREND"}),  # 9: line 1 again, another answer
    {  # 10: a failed call, as the Batch API records it
        "request": {"messages": [{"role": "user", "content": "TCS revenue"}]},
        "response": {"status_code": 500, "body": {}},
        "metadata": {"task": "query_classifier"},
    },
    _call("Email me at jane.doe@example.com the top banks by assets", CLASSIFIED),  # 11
    b"",
]


def test_every_line_is_a_record_or_a_quarantine_row_naming_it(pack):
    guards = GuardChain(parse_config({}).guards, pack, path="labeling")
    result = import_log_lines(_jsonl(LOG), "calls.jsonl", LogImportConfig(), pack, guards)
    reasons = {q["line"]: q["reason"] for q in result.quarantine}
    records = {r["imported"]["line"]: r for r in result.records}
    assert set(reasons) | set(records) | {8} == set(range(1, 12)) and result.duplicates == 1
    assert not set(reasons) & set(records)
    assert reasons[3].startswith("line: not valid JSON")
    assert "task: none found in metadata.task" in reasons[4]
    assert "unknown task 'stock_picker'" in reasons[5]
    assert reasons[6].startswith("response.choices[0].message.content: schema")
    assert "finish_reason: length" in reasons[7]
    assert reasons[9].startswith("conflict") and "line 1" in reasons[9]
    assert reasons[10] == "response.status_code: 500"
    first = records[1]
    assert (first["input"], first["context"], first["output"]) == (
        "TCS revenue FY24",
        {"as_of": "2025-06-30"},
        '{"category":"LOOKUP"}',
    )
    assert first["teacher"] == "teacher-8b" and first["source"] == "log:calls.jsonl"
    assert records[2]["context"] == {"as_of": "2026-01-01"}  # the call's day
    # personal data never reaches a record or a quarantine row; raw lines are kept only as hashes
    stored = json.dumps(result.records + result.quarantine)
    assert "jane.doe@example.com" not in stored and all(
        "line_sha256" in q for q in result.quarantine
    )


def test_task_by_model_name_or_system_tag(pack):
    by_model = LogImportConfig(task_from="model", model_tasks={"fin-cls": "query_classifier"})
    lines = [_call("TCS revenue", CLASSIFIED, task=None, model="fin-cls")]
    lines.append(_call("Wipro revenue", CLASSIFIED, task=None, model="other"))
    result = import_log_lines(_jsonl(lines), "m.jsonl", by_model, pack)
    assert [r["task"] for r in result.records] == ["query_classifier"]
    assert "request.model 'other'" in result.quarantine[0]["reason"]
    tagged = _call(
        "TCS revenue", CLASSIFIED, task=None, system="[task: query_classifier] Label it."
    )
    by_tag = import_log_lines(
        _jsonl([tagged]), "s.jsonl", LogImportConfig(task_from="system"), pack
    )
    assert [r["task"] for r in by_tag.records] == ["query_classifier"]


def _dataset(tmp_path, labeled_inputs: list[str]):
    cfg = parse_config(
        {"store": {"uri": f"file://{tmp_path / 'store'}"}, "data": {"version": "t1"}}
    )
    store = open_store(cfg.store)
    prefix = work_prefix(cfg.data.dataset, cfg.data.version)
    records = [
        {
            "id": f"p{i}:query_classifier",
            "prompt_id": f"p{i}",
            "family": f"p{i}",
            "source": "curated/x",
            "input": text,
            "task": "query_classifier",
            "output": '{"category":"LOOKUP"}',
            "context": {"as_of": "2026-01-15"},
        }
        for i, text in enumerate(labeled_inputs)
    ]
    store.put_bytes(prefix + "labeled.jsonl", to_jsonl(records))
    store.put_bytes(prefix + "quarantine.jsonl", b"")
    store.put_json(prefix + "label_report.json", {"labeled": len(records)})
    return cfg, store


def test_the_build_merges_finished_imports_with_lineage(pack, tmp_path):
    cfg, store = _dataset(tmp_path, [f"query {i}" for i in range(30)] + ["TCS revenue FY24"])
    data = _jsonl(LOG)
    guards = GuardChain(cfg.guards, pack, path="labeling")
    result = import_log_lines(data, "calls.jsonl", LogImportConfig(), pack, guards)
    store_import(store, "finance", "t1", "calls.jsonl", data, result)
    unfinished = "work/finance/t1/imports/half-0/records.jsonl"  # no report: never merged
    store.put_bytes(unfinished, to_jsonl(result.records))
    assert len(load_imports(store, "finance", "t1")[2]) == 1
    manifest = stage_finish(cfg, store, Console(quiet=True))
    (report,) = manifest["imports"]
    assert (report["file"], report["records"], report["duplicates"]) == ("calls.jsonl", 3, 1)
    prefix = "datasets/finance/t1/"
    rows = [
        json.loads(x)
        for s in ("train", "val", "test")
        for x in store.get_bytes(f"{prefix}{s}.jsonl").splitlines()
    ]
    logged = sorted(r["input"] for r in rows if r["source"].startswith("log:"))
    assert logged == [
        "Email me at [EMAIL] the top banks by assets",
        "Infosys net profit last quarter",
    ]
    quarantine = store.get_bytes(prefix + "quarantine.jsonl").decode()
    assert "already in this dataset version" in quarantine and "calls.jsonl:1" in quarantine


def test_import_logs_command(tmp_path):
    cfg_path = tmp_path / "p.yaml"
    cfg_path.write_text(f"store: {{uri: 'file://{tmp_path / 'store'}'}}\n")
    log = tmp_path / "calls.jsonl"
    log.write_bytes(_jsonl(LOG))
    result = CliRunner().invoke(app, ["data", "import-logs", str(log), "-c", str(cfg_path)])
    assert result.exit_code == 0, result.output
    assert "imported 3 record(s), 1 duplicate(s), 7 quarantined" in " ".join(result.output.split())
    assert "calls.jsonl:3" in result.output
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b"not json\n")
    result = CliRunner().invoke(app, ["data", "import-logs", str(bad), "-c", str(cfg_path)])
    assert result.exit_code != 0 and "bad.jsonl:1" in result.output
