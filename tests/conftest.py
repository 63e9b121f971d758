"""Shared pytest set-up: fixtures that live in their own modules are registered here."""

pytest_plugins = ["fakegoogle"]  # the fake_google fixture: a local stand-in for Google (gTTS)
