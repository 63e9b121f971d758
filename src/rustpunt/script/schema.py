"""The JSON Schema of the script format, for editors: completion, hover help, validation as you type.

The schema ships inside the package (schema.json beside this module). It describes what
rustpunt.script.load accepts, so an editor flags most mistakes before `rustpunt check` does; a few rules
it cannot express (a key written twice, whether a voice profile exists, whether a duration string
such as "90m" is within an hour) are left to the loader, which stays the authority.

Use it in an editor with yaml-language-server (VS Code's YAML extension, Neovim, Helix...):

    rustpunt schema > rustpunt-script.schema.json

and as the first line of a script, with the path relative to the script:

    # yaml-language-server: $schema=./rustpunt-script.schema.json
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any


def script_schema() -> dict[str, Any]:
    """The script format as a JSON Schema (draft 2020-12), read from the packaged schema.json.

    A fresh dict on every call, so a caller may change it without affecting others.
    """
    text = (files("rustpunt.script") / "schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema
