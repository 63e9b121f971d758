"""rustpunt: Dutch exercise scripts (YAML) to guided-audio MP3s with pauses timed to each step."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("rustpunt")  # one place for the version: pyproject.toml
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"
