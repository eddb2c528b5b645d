"""scripts/lock.sh keeps a new CPU lock only when README's test command passes on it.

setup.sh, pip and pytest are stand-ins here (a fake interpreter in a copy of the script's
layout): resolving real versions needs the package index and the real test run takes an hour.
What runs for real is lock.sh itself: its order of steps and what it leaves in constraints/.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
FAKE_SETUP = """#!/usr/bin/env bash
set -euo pipefail
VENV=${MKD_VENV:-.venv}
echo "setup ${MKD_CONSTRAINTS-constraints/cpu.txt} $(cat constraints/cpu.txt | tail -1)" >> calls.log
mkdir -p "$VENV/bin"
cat > "$VENV/bin/python" <<'PY'
#!/usr/bin/env bash
if [ "$*" = "-m pip freeze --exclude-editable" ]; then printf 'newpkg==2.0\\ntorch==2.13.0+cpu\\n'; exit 0; fi
if [ "$1 $2" = "-m pytest" ]; then echo "pytest" >> calls.log; exit "${FAKE_TESTS_RC:-0}"; fi
exit 0
PY
chmod +x "$VENV/bin/python"
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "scripts").mkdir()
    (tmp_path / "constraints").mkdir()
    shutil.copy(ROOT / "scripts" / "lock.sh", tmp_path / "scripts" / "lock.sh")
    (tmp_path / "scripts" / "setup.sh").write_text(FAKE_SETUP)
    (tmp_path / "scripts" / "setup.sh").chmod(0o755)
    (tmp_path / "constraints" / "cpu.txt").write_text("# old\noldpkg==1.0\n")
    return tmp_path


def _lock(repo: Path, tests_rc: int) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "scripts/lock.sh"], cwd=repo, capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/bin:/bin", "FAKE_TESTS_RC": str(tests_rc)},
    )  # fmt: skip


def test_a_lock_whose_tests_pass_replaces_the_old_one(repo):
    result = _lock(repo, tests_rc=0)
    assert result.returncode == 0, result.stderr
    lock = (repo / "constraints" / "cpu.txt").read_text()
    assert "newpkg==2.0" in lock and "oldpkg" not in lock
    assert "torch==2.13.0\n" in lock  # the CPU wheel's local version dropped
    calls = (repo / "calls.log").read_text().splitlines()
    # scratch resolve (no constraints), then install from the new lock, then the tests
    assert calls == ["setup  oldpkg==1.0", "setup constraints/cpu.txt torch==2.13.0", "pytest"]


def test_a_lock_whose_tests_fail_is_dropped_and_the_old_one_reinstalled(repo):
    result = _lock(repo, tests_rc=1)
    assert result.returncode == 1
    assert "constraints/cpu.txt kept as it was" in result.stderr
    assert (repo / "constraints" / "cpu.txt").read_text() == "# old\noldpkg==1.0\n"
    calls = (repo / "calls.log").read_text().splitlines()
    assert calls[-1] == "setup constraints/cpu.txt oldpkg==1.0"  # reinstalled from the old lock
