"""Samples: session PCM, loudness, the mix of clips and pauses, and the sound design under it."""
