"""Bad inputs fail before any work starts, with one line naming the field."""

import shutil

import pytest
from mkd.config import parse_config
from mkd.storage import open_store
from mkd.training.inputs import TrainingInputError
from mkd.training.job import plan_run


def cfg_for(tmp_path, fixture_dir, **training):
    return parse_config(
        {
            "store": {"uri": f"file://{tmp_path}/store"},
            "training": {"dataset": str(fixture_dir), **training},
        }
    )


def one_line_error(cfg, store, field: str, resume=None) -> str:
    with pytest.raises(TrainingInputError) as err:
        plan_run(cfg, store, resume)
    message = str(err.value)
    assert message.startswith(field) and "\n" not in message, message
    return message


def test_a_local_dataset_directory_plans(tmp_path, fixture_dir):
    cfg = cfg_for(tmp_path, fixture_dir)
    plan = plan_run(cfg, open_store(cfg.store))
    assert len(plan.dataset.train) == 240 and len(plan.dataset.val) == 40
    assert plan.tasks == sorted(cfg.tasks) and len(plan.dataset.sha256) == 64


def test_a_dataset_version_that_does_not_exist(tmp_path, fixture_dir):
    cfg = cfg_for(tmp_path, fixture_dir, dataset="finance/v9")
    msg = one_line_error(cfg, open_store(cfg.store), "training.dataset:")
    assert "finance/v9 does not exist" in msg


def test_latest_takes_the_newest_finished_version(tmp_path, fixture_dir):
    cfg = cfg_for(tmp_path, fixture_dir, dataset="latest")
    store = open_store(cfg.store)
    one_line_error(cfg, store, "training.dataset:")  # nothing finished yet
    for version in ("v1", "v2"):
        for split in ("train", "val"):
            store.put_file(
                f"datasets/finance/{version}/{split}.jsonl", fixture_dir / f"{split}.jsonl"
            )
    store.put_json("datasets/finance/v1/manifest.json", {"version": "v1"})  # v2 has no manifest
    plan = plan_run(cfg, store)
    assert (plan.dataset.name, plan.dataset.version) == ("finance", "v1")


def test_a_base_model_uri_that_cannot_be_resolved(tmp_path, fixture_dir):
    cfg = cfg_for(tmp_path, fixture_dir, base_model="gguf+pkg://no_such_pkg/model.gguf")
    assert "no_such_pkg" in one_line_error(cfg, open_store(cfg.store), "training.base_model:")
    cfg = cfg_for(tmp_path, fixture_dir, base_model=str(tmp_path / "missing-dir"))
    one_line_error(cfg, open_store(cfg.store), "training.base_model:")


def test_a_task_missing_from_the_dataset(tmp_path, fixture_dir):
    data = tmp_path / "data"
    data.mkdir()
    rows = (fixture_dir / "train.jsonl").read_text().splitlines()
    (data / "train.jsonl").write_text("\n".join(r for r in rows if "date_interpretation" not in r))
    shutil.copy(fixture_dir / "val.jsonl", data / "val.jsonl")
    cfg = cfg_for(tmp_path, fixture_dir, dataset=str(data))
    msg = one_line_error(cfg, open_store(cfg.store), "training.tasks:")
    assert "date_interpretation missing from dataset" in msg


def test_a_bad_record_names_its_file_and_line(tmp_path, fixture_dir):
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.jsonl").write_text('{"input": "x", "task": "query_classifier"}\nnot json\n')
    cfg = cfg_for(tmp_path, fixture_dir, dataset=str(data))
    assert "train.jsonl:2" in one_line_error(cfg, open_store(cfg.store), "training.dataset:")


def test_resume_of_an_unknown_run(tmp_path, fixture_dir):
    cfg = cfg_for(tmp_path, fixture_dir)
    one_line_error(cfg, open_store(cfg.store), "--resume:", resume="nope-123")
