"""Building: one script or episode, many in parallel, the up-to-date record, the watch."""
