"""rustpunt: Dutch exercise scripts (YAML) to guided-audio MP3s with pauses timed to each step."""

__version__ = "0.1.0"
