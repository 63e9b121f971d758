"""The finished files: MP3 frames, the spliced and one-pass encoders, tags and sidecars."""
