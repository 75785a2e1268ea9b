"""NYSIIS phonetic keys: names that sound alike share a key ("Smith"/"Smyth" -> "SNAT").

The New York State Identification and Intelligence System algorithm (Taft, 1970), implemented
here from its published rules so blocking needs no extra dependency. Input is expected to be a
normalised name (lower case ASCII letters); anything else is dropped.
"""

from __future__ import annotations

from functools import lru_cache

_VOWELS = frozenset("AEIOU")
_PREFIXES = (("MAC", "MCC"), ("KN", "NN"), ("K", "C"), ("PH", "FF"), ("PF", "FF"), ("SCH", "SSS"))
_SUFFIXES = (("EE", "Y"), ("IE", "Y"), ("DT", "D"), ("RT", "D"), ("RD", "D"), ("NT", "D"))
_SUFFIXES += (("ND", "D"),)


@lru_cache(maxsize=200_000)  # names repeat a lot; the cache makes bulk loads much cheaper
def nysiis(name: str, max_length: int = 6) -> str:
    """The NYSIIS code of a name, truncated to `max_length` characters ('' for no letters)."""
    word = "".join(char for char in name.upper() if "A" <= char <= "Z")
    if not word:
        return ""
    for old, new in _PREFIXES:
        if word.startswith(old):
            word = new + word[len(old) :]
            break
    for old, new in _SUFFIXES:
        if word.endswith(old):
            word = word[: -len(old)] + new
            break
    key = word[0]
    chars = list(word)
    index = 1
    while index < len(chars):
        char = chars[index]
        if word[index : index + 2] == "EV":
            chars[index : index + 2] = ["A", "F"]
            char = "A"
        elif char in _VOWELS:
            char = "A"
        elif char == "Q":
            char = "G"
        elif char == "Z":
            char = "S"
        elif char == "M":
            char = "N"
        elif char == "K":
            char = "N" if index + 1 < len(chars) and chars[index + 1] == "N" else "C"
        elif "".join(chars[index : index + 3]) == "SCH":
            chars[index : index + 3] = ["S", "S", "S"]
            char = "S"
        elif "".join(chars[index : index + 2]) == "PH":
            chars[index : index + 2] = ["F", "F"]
            char = "F"
        elif (
            char == "H"
            and (
                chars[index - 1] not in _VOWELS
                or (index + 1 < len(chars) and chars[index + 1] not in _VOWELS)
            )
        ) or (char == "W" and chars[index - 1] in _VOWELS):
            char = chars[index - 1]
        chars[index] = char
        if char != key[-1]:
            key += char
        index += 1
    if len(key) > 1 and key.endswith("S"):
        key = key[:-1]
    if len(key) > 1 and key.endswith("AY"):
        key = key[:-2] + "Y"
    if len(key) > 1 and key.endswith("A"):
        key = key[:-1]
    return key[:max_length]
