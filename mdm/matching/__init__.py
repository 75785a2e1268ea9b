"""Matching: normalisation, phonetic keys, blocking, scoring and weight estimation."""
