"""Voices: profiles, engines, pronunciation, and the clip cache that text is spoken through."""
