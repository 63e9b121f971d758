"""rustpunt: Dutch exercise scripts (YAML) to guided-audio MP3s with pauses timed to each step."""

__version__ = "0.1.0"
"""The one place for the version (pyproject.toml reads it from here): a literal, so that
`rustpunt --version` and a no-op rebuild need not import importlib.metadata (~35 ms)."""
