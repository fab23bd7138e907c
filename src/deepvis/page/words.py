"""English for the sentences the notebooks write from their results: lists and indefinite
articles, so that a generated sentence reads as a written one."""

from __future__ import annotations

from collections.abc import Iterable


def listed(items: Iterable[object]) -> str:
    """The items as an English list: ``"a"``, ``"a and b"``, ``"a, b and c"`` (``""`` for none)."""
    items = [str(item) for item in items]
    if len(items) < 2:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"


def with_article(noun: str) -> str:
    """`noun` after its indefinite article, chosen by the first letter: ``"a coat"``,
    ``"an ankle boot"``. (By letter, not by sound: right for the class names of Fashion-MNIST and
    for nouns that do not start with a silent h or a vowel read as a consonant.)"""
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def in_sentence(name: str) -> str:
    """A class name inside a sentence: lower case, but "T-shirt" keeps its capital
    (``"T-shirt/top"`` -> ``"T-shirt/top"``, ``"Ankle boot"`` -> ``"ankle boot"``)."""
    return name.lower().replace("t-shirt", "T-shirt")


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def power_of_ten(value: float) -> str:
    """A small or large number as prose writes it, one significant digit times a power of ten:
    ``9.4e-07`` -> ``"9 × 10⁻⁷"``, ``3e-06`` -> ``"3 × 10⁻⁶"``; ``"0"`` for zero."""
    if value == 0:
        return "0"
    mantissa, exponent = f"{value:.0e}".split("e")
    return f"{mantissa} × 10{str(int(exponent)).translate(_SUPERSCRIPT)}"


_SMALL = "zero one two three four five six seven eight nine ten".split()


def counted(n: int, capital: bool = False) -> str:
    """A count as prose writes it: zero to ten in words (``4`` -> ``"four"``), larger counts in
    digits (``12`` -> ``"12"``); `capital` starts the word with a capital, for a sentence."""
    word = _SMALL[n] if 0 <= n <= 10 else str(n)
    return word[:1].upper() + word[1:] if capital else word
