"""The script format: YAML read with its lines, validated, and planned into a timeline; no audio."""
