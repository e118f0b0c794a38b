"""The one "enum member or its value" coercion of the kit.

Configs, CLI flags and library calls accept an enum member or its string (``"fasttext"``, ``" FastText"``);
every such place converts once, here, and gets the same one-line error naming the key or flag.

Example:
    >>> from enum import Enum
    >>> class Unit(str, Enum):
    ...     paragraph = "paragraph"
    ...     sentence = "sentence"
    >>> coerce(Unit, " Sentence", "unit")
    <Unit.sentence: 'sentence'>
    >>> coerce(Unit, "word", "unit")
    Traceback (most recent call last):
    ...
    ValueError: unit='word' must be one of: paragraph, sentence
"""

from __future__ import annotations

from enum import Enum
from typing import TypeVar

E = TypeVar("E", bound=Enum)


def coerce(enum_cls: type[E], value: object, what: str) -> E:
    """``value`` as a member of ``enum_cls``.

    Args:
        enum_cls: the enum to convert to.
        value: a member (passed through), another enum's member (its value is used) or a value; strings are
            matched with case and surrounding spaces ignored.
        what: the key or flag the value came from, named in the error (``"judge.kind"``, ``"--lid"``).

    Returns:
        The member of ``enum_cls``.

    Raises:
        ValueError: ``"<what>=<value> must be one of: <values>"`` when no member matches.
    """
    if isinstance(value, enum_cls):
        return value
    raw = value.value if isinstance(value, Enum) else value
    key = str(raw).strip().lower()
    for member in enum_cls:
        if str(member.value).lower() == key:
            return member
    raise ValueError(f"{what}={value!r} must be one of: {', '.join(str(m.value) for m in enum_cls)}")
