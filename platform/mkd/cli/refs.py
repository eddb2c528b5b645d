"""Model references on the command line: the registry's one grammar, checked before any work."""

from __future__ import annotations

import typer

from mkd.registry import RegistryError, parse_ref


def model_ref_option(value: str | None) -> str | None:
    """Typer callback: a `NAME:VERSION` / `NAME@STAGE` reference, or a usage error naming the
    accepted forms (mkd.registry.parse_ref)."""
    if value is None:
        return None
    try:
        parse_ref(value, pinned=True)
    except RegistryError as exc:
        raise typer.BadParameter(str(exc)) from None
    return value.strip()
