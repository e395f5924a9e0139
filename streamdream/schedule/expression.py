"""A schedule's values: small arithmetic expressions over time and audio features, checked
against a short list of what they may use before anything runs, then evaluated by simpleeval
(never `eval`)."""

from __future__ import annotations

import ast
import math

import simpleeval

from ..errors import UsageError, did_you_mean

# what an expression may call; `clip(x, low, high)` as numpy spells it
FUNCTIONS = {
    "sin": math.sin, "cos": math.cos, "tan": math.tan, "abs": abs, "min": min, "max": max,
    "clip": lambda x, low, high: min(max(x, low), high), "sqrt": math.sqrt, "exp": math.exp,
    "floor": math.floor, "ceil": math.ceil, "round": round,
}
CONSTANTS = {"pi": math.pi, "e": math.e}

# a schedule is typed by a person: anything longer is a mistake or an attack
MAX_LENGTH = 1000

_NODES = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Constant, ast.Name, ast.Load, ast.Call, ast.Compare,
          ast.IfExp, ast.BoolOp, ast.And, ast.Or, ast.Not, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Mod, ast.Pow,
          ast.FloorDiv, ast.USub, ast.UAdd, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq)


class ExpressionError(UsageError):
    """A bad expression; `offset` is the 0-based character in its text where the trouble is."""

    def __init__(self, message: str, offset: int = 0):
        super().__init__(message)
        self.offset = offset


class Expression:
    """One checked expression: `Expression(text, names)(values) -> float`. `names` are the
    variables it may read (besides the constants); each call gives their values."""

    def __init__(self, text: str, names: tuple[str, ...]):
        if len(text) > MAX_LENGTH:
            raise ExpressionError(f"an expression of {len(text)} characters; the most is {MAX_LENGTH}", 0)
        if not text.strip():
            raise ExpressionError("an empty value; write a number or an expression, e.g. (1.0)", 0)
        try:
            tree = ast.parse(text.strip(), mode="eval")
        except SyntaxError as exc:
            offset = max(0, (exc.offset or 1) - 1 + (len(text) - len(text.lstrip())))
            raise ExpressionError(f"not an expression ({exc.msg})", offset) from None
        lead = len(text) - len(text.lstrip())
        for node in ast.walk(tree):
            _check_node(node, names, lead)
        self.text, self.names = text.strip(), set(names)
        self.reads = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - set(CONSTANTS) - set(FUNCTIONS)
        self._tree = tree.body
        operators = dict(simpleeval.DEFAULT_OPERATORS)
        operators[ast.Pow] = _power
        self._eval = simpleeval.SimpleEval(functions=FUNCTIONS, operators=operators)
        self.constant = not self.reads

    def __call__(self, values: dict[str, float]) -> float:
        """The value; ExpressionError on a division by zero, an overflow, a math domain error, or
        a result that is not a finite number."""
        self._eval.names = {**CONSTANTS, **values}
        try:
            value = self._eval._eval(self._tree)
        except ZeroDivisionError:
            raise ExpressionError("divides by zero", 0) from None
        except (OverflowError, simpleeval.NumberTooHigh):
            raise ExpressionError("a number too large (an exponent over simpleeval's limit?)", 0) from None
        except (ValueError, TypeError) as exc:
            raise ExpressionError(f"cannot be worked out ({exc})", 0) from None
        except simpleeval.InvalidExpression as exc:
            raise ExpressionError(f"not allowed ({exc})", 0) from None
        if isinstance(value, bool):
            value = float(value)
        if not isinstance(value, (int, float)):
            raise ExpressionError(f"gives {type(value).__name__}, not a number", 0)
        value = float(value)
        if not math.isfinite(value):
            raise ExpressionError(f"gives {value}, not a finite number", 0)
        return value


def _power(base, exponent) -> float:
    # in floats: an integer power such as 99999999**3999999 is exact, and takes minutes
    return math.pow(float(base), float(exponent))


def _check_node(node: ast.AST, names: tuple[str, ...], lead: int) -> None:
    where = lead + getattr(node, "col_offset", 0)
    if not isinstance(node, _NODES):
        what = {ast.Attribute: "attribute access (.)", ast.Lambda: "a lambda", ast.Subscript: "indexing ([])",
                ast.Starred: "unpacking (*)"}.get(type(node), type(node).__name__)
        raise ExpressionError(f"{what} is not allowed; an expression uses numbers, + - * / ** %, "
                              f"comparisons, names and {', '.join(FUNCTIONS)}", where)
    if isinstance(node, ast.Constant) and (isinstance(node.value, bool) or not isinstance(node.value, (int, float))):
        raise ExpressionError(f"{node.value!r} is not a number", where)
    if isinstance(node, ast.Name) and node.id not in names and node.id not in CONSTANTS and node.id not in FUNCTIONS:
        known = [*names, *CONSTANTS]
        raise ExpressionError(f"unknown name '{node.id}'{did_you_mean(node.id, [*known, *FUNCTIONS])}; "
                              f"an expression may use {', '.join(known)}", where)
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            name = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
            raise ExpressionError(f"'{name}' cannot be called{did_you_mean(name, FUNCTIONS)}; "
                                  f"the functions are {', '.join(FUNCTIONS)}", where)
        if node.keywords:
            raise ExpressionError(f"{node.func.id}() takes no keyword arguments", where)
