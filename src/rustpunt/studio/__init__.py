"""The editor's studio: the review page of a built folder, and the live server on loopback."""
