"""Fast numeric equivalence of small LaTeX expressions, the symbolic judge's first test before math-verify.

math-verify settles ``2\\sqrt{2}`` vs ``\\sqrt{8}`` but costs 30-400 ms a pair on CPU (LaTeX parsing and
sympy). Key results are mostly elementary expressions, so we first evaluate both sides ourselves: a small
recursive-descent parser over a whitelist of LaTeX (numbers, one-letter variables, ``+ - * / ^``, implicit
products, ``\\frac``, ``\\sqrt[n]{}``, ``\\pi``, elementary functions) evaluated in floats at two fixed
points for the variables. Equal values at both points (relative tolerance 1e-9) means equivalent, different
means not; anything outside the whitelist (sets, intervals, ``\\infty``, text, complex results) is
*undecided* (None) and left to math-verify. No ``eval``: the parser computes the value itself, and float
arithmetic turns a runaway power into an OverflowError instead of a huge integer.

Example:
    >>> equivalent(r"2\\sqrt{2}", r"\\sqrt{8}"), equivalent(r"x^2+2x+1", r"(x+1)^{2}"), equivalent("a+b", r"\\infty")
    (True, True, None)
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

MAX_CHARS = 300  # longer expressions are not a single key result; math-verify or nothing
MAX_DEPTH = 40  # nesting bound, far below Python's recursion limit
_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?|\.\d+)|\\([A-Za-z]+)|([A-Za-z])|(\*\*|[-+*/^(){}\[\]]))")
_FUNCTIONS = {"sqrt": math.sqrt, "sin": math.sin, "cos": math.cos, "tan": math.tan, "ln": math.log,
              "log": math.log, "exp": math.exp, "arcsin": math.asin, "arccos": math.acos, "arctan": math.atan}
_CONSTANTS = {"pi": math.pi}
_LETTER_CONSTANTS = {"e": math.e}  # e^{x} and \\exp(x) agree; a variable named e would be rare
_CLOSE = {"(": ")", "{": "}", "[": "]"}


class Undecided(Exception):
    """The expression is outside what this evaluator understands."""


def _tokens(expr: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    expr = expr.strip()
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if not m or m.end() == pos:
            raise Undecided(f"unsupported character at {pos}")
        number, command, letter, op = m.groups()
        if number is not None:
            tokens.append(("num", number))
        elif command is not None:
            if command not in _FUNCTIONS and command not in _CONSTANTS and command not in ("frac", "dfrac", "tfrac"):
                raise Undecided(f"unsupported command \\{command}")
            tokens.append(("cmd", command))
        elif letter is not None:
            tokens.append(("var", letter))
        else:
            tokens.append(("op", "^" if op == "**" else op))
        pos = m.end()
    return tokens


class _Evaluator:
    def __init__(self, tokens: list[tuple[str, str]], variables: dict[str, float]):
        self.tokens, self.variables, self.pos, self.depth = tokens, variables, 0, 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, kind: str | None = None, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (kind and token[0] != kind) or (value and token[1] != value):
            raise Undecided(f"expected {value or kind} at token {self.pos}")
        self.pos += 1
        return token

    def run(self) -> float:
        value = self.expression()
        if self.peek() is not None:
            raise Undecided(f"unexpected {self.peek()[1]!r}")
        if isinstance(value, complex) or not math.isfinite(value):
            raise Undecided("not a finite real value")
        return value

    def expression(self) -> float:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise Undecided("nested too deeply")
        value = self.term()
        while self.peek() in (("op", "+"), ("op", "-")):
            op = self.take()[1]
            value = value + self.term() if op == "+" else value - self.term()
        self.depth -= 1
        return value

    def _starts_primary(self) -> bool:
        token = self.peek()
        return token is not None and (token[0] in ("num", "var", "cmd") or token in (("op", "("), ("op", "{")))

    def term(self) -> float:
        value = self.unary()
        while True:
            token = self.peek()
            if token in (("op", "*"), ("op", "/")):
                self.take()
                right = self.unary()
                value = value * right if token[1] == "*" else value / right
            elif self._starts_primary():  # implicit product: 2x, 2\sqrt{2}, (x+1)(x-1)
                value = value * self.power()
            else:
                return value

    def unary(self) -> float:
        if self.peek() in (("op", "-"), ("op", "+")):
            sign = -1.0 if self.take()[1] == "-" else 1.0
            return sign * self.unary()
        return self.power()

    def power(self) -> float:
        base = self.primary()
        if self.peek() == ("op", "^"):
            self.take()
            exponent = self.unary()
            if abs(exponent) > 1000:
                raise Undecided("exponent too large")
            result = base ** exponent
            if isinstance(result, complex):
                raise Undecided("complex power")
            return result
        return base

    def group(self) -> float:
        opening = self.take("op")[1]
        if opening not in _CLOSE:
            raise Undecided(f"expected a group, got {opening!r}")
        value = self.expression()
        self.take("op", _CLOSE[opening])
        return value

    def primary(self) -> float:
        token = self.peek()
        if token is None:
            raise Undecided("expression ends early")
        kind, value = token
        if kind == "num":
            self.take()
            return float(value)
        if kind == "var":
            self.take()
            return _LETTER_CONSTANTS.get(value, self.variables.get(value, 0.0))
        if kind == "cmd":
            self.take()
            if value in _CONSTANTS:
                return _CONSTANTS[value]
            if value in ("frac", "dfrac", "tfrac"):
                numerator = self.group()
                return numerator / self.group()
            if value == "sqrt" and self.peek() == ("op", "["):
                self.take()
                degree = self.expression()
                self.take("op", "]")
                radicand = self.group()
                if radicand < 0 or degree == 0:
                    raise Undecided("root of a negative number")
                return radicand ** (1.0 / degree)
            argument = self.group() if self.peek() in (("op", "("), ("op", "{")) else self.power()
            return _FUNCTIONS[value](argument)
        if token in (("op", "("), ("op", "{")):
            return self.group()
        raise Undecided(f"unexpected {value!r}")


def _points(names: set[str]) -> list[dict[str, float]]:
    """Two fixed, generic assignments (irrational-looking values, so coincidences are negligible)."""
    return [{name: 0.5 + ((ord(name) * 37 + k * 11) % 23) * 0.1373 for name in names} for k in (1, 2)]


@lru_cache(maxsize=16384)
def evaluate(expr: str, point: int = 0, names: tuple[str, ...] = ()) -> float:
    """The value of ``expr`` with its variables at fixed point ``point`` (0 or 1); raises :class:`Undecided`."""
    if len(expr) > MAX_CHARS:
        raise Undecided("too long")
    tokens = _tokens(expr)
    variables = _points(set(names) | {v for kind, v in tokens if kind == "var" and v not in _LETTER_CONSTANTS})[point]
    try:
        return _Evaluator(tokens, variables).run()
    except (ZeroDivisionError, OverflowError, ValueError, RecursionError) as exc:
        raise Undecided(type(exc).__name__) from None


def variables_of(expr: str) -> frozenset[str]:
    try:
        return frozenset(v for kind, v in _tokens(expr) if kind == "var" and v not in _LETTER_CONSTANTS)
    except Undecided:
        return frozenset()


def constant_value(expr: str) -> float | None:
    """The value of a variable-free expression (``2^{10}``, ``\\frac{\\sqrt{6}}{4}``), else None."""
    try:
        return None if variables_of(expr) else evaluate(expr)
    except Undecided:
        return None


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def values(expr: str) -> tuple[float | None, float | None]:
    """``expr`` at each of the two fixed points (None where undecided). A variable's value depends only on its
    name, so these two numbers are all :func:`equivalent` ever compares: evaluating each expression once and
    comparing the pairs with :func:`close` gives its verdicts without re-evaluating per pair."""
    out: list[float | None] = []
    for point in (0, 1):
        try:
            out.append(evaluate(expr, point))
        except Undecided:
            out.append(None)
    return out[0], out[1]


def equivalent(a: str, b: str) -> bool | None:
    """True/False when both expressions evaluate at both points; None (undecided) otherwise."""
    try:
        names = tuple(sorted(variables_of(a) | variables_of(b)))
        return all(close(evaluate(a, k, names), evaluate(b, k, names)) for k in (0, 1))
    except Undecided:
        return None
