"""The base for every config section: unknown keys are errors, fields are documented."""

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A config section. Unknown keys are refused so that a typo never passes silently."""

    model_config = ConfigDict(extra="forbid", validate_default=True)
