"""``ibalgo port OLD.py -o NEW.py``: convert a Quantopian-era (often Python 2) algorithm file to Python 3 and
today's API, showing the changes as a unified diff.

The conversion works on the file's tokens (the standard library's :mod:`tokenize`), so strings and comments are
never touched. What it rewrites:

- Python 2: ``print x, y`` (also ``print >>f, x`` and a trailing comma), ``except E, e:``, ``raise E, "msg"``,
  ``xrange``, ``raw_input``, ``unicode``, ``basestring``, ``long(...)``, ``.iteritems()`` / ``.itervalues()`` /
  ``.iterkeys()``, ``<>``, ``0777`` octal and ``10L`` long literals;
- the Quantopian API: ``data[asset].price`` (and ``.open_price``, ``.close_price``, ``.high``, ``.low``,
  ``.volume``) to ``data.current(asset, 'price')``, ``data[asset].mavg(n)`` / ``.stddev(n)`` to
  ``data.history(asset, 'price', n, '1d').mean()`` / ``.std()``, ``before_trading_start(context)`` to
  ``(context, data)``, ``pd.rolling_mean(s, n)`` (and the other ``rolling_*``) to ``s.rolling(n).mean()``,
  ``pd.ewma(s, span=n)`` to ``s.ewm(span=n).mean()``.

What needs a person (``.has_key``, ``.ix``, ``set_universe``, ``@batch_transform``, ``get_fundamentals``,
``history(...)``) is listed with its line after the diff.
"""

from __future__ import annotations

import argparse
import difflib
import io
import sys
import tokenize
from dataclasses import dataclass
from pathlib import Path

_RENAMES = {"xrange": "range", "raw_input": "input", "unicode": "str", "basestring": "str"}
_METHOD_RENAMES = {"iteritems": "items", "itervalues": "values", "iterkeys": "keys"}
_CURRENT_FIELDS = {"price": "price", "open_price": "open", "close_price": "close", "high": "high", "low": "low",
                   "volume": "volume"}
_HISTORY_METHODS = {"mavg": "mean", "stddev": "std"}
_ROLLING = {"mean", "std", "var", "sum", "min", "max", "median", "count", "skew", "kurt", "apply", "quantile"}
_MANUAL = {
    "has_key": "d.has_key(k) is Python 2: write 'k in d'",
    "ix": ".ix was removed from pandas: use .loc[...] (labels) or .iloc[...] (positions)",
    "set_universe": "set_universe was removed: pick the assets with symbols(...) in initialize",
    "batch_transform": "@batch_transform was removed: call data.history(...) in handle_data instead",
    "get_fundamentals": "fundamentals are not in the data: read your own CSV with pandas",
    "history": "history(bar_count, frequency, field) still runs (over the assets looked up so far); today's form "
               "is data.history(assets, field, bar_count, frequency)",
}
_OPEN, _CLOSE = "([{", ")]}"
_SKIP = (tokenize.NL, tokenize.COMMENT, tokenize.ENCODING)


@dataclass(frozen=True)
class PortResult:
    """The converted source, the notes for what needs a person (``line: text``), and whether it compiles."""

    source: str
    notes: list[str]
    compiles: bool
    error: str | None = None


class _Edits:
    """Text replacements by (start, end) character offsets, applied from the end."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._line_start = [0]
        for line in source.splitlines(keepends=True):
            self._line_start.append(self._line_start[-1] + len(line))
        self.items: list[tuple[int, int, str]] = []

    def offset(self, pos: tuple[int, int]) -> int:
        return self._line_start[pos[0] - 1] + pos[1]

    def replace(self, start: tuple[int, int], end: tuple[int, int], text: str) -> None:
        self.items.append((self.offset(start), self.offset(end), text))

    def apply(self) -> str:
        out = self.source
        taken: list[tuple[int, int]] = []
        for start, end, text in sorted(self.items, key=lambda e: (e[0], e[1]), reverse=True):
            if any(start < b and a < end for a, b in taken):  # overlapping edits: keep the first applied
                continue
            out = out[:start] + text + out[end:]
            taken.append((start, end))
        return out


def _significant(tokens: list[tokenize.TokenInfo]) -> list[tokenize.TokenInfo]:
    return [t for t in tokens if t.type not in _SKIP]


def _matching(toks: list[tokenize.TokenInfo], i: int) -> int:
    """Index of the bracket closing the one at ``i``."""
    depth = 0
    for j in range(i, len(toks)):
        s = toks[j].string
        if toks[j].type == tokenize.OP and s in _OPEN:
            depth += 1
        elif toks[j].type == tokenize.OP and s in _CLOSE:
            depth -= 1
            if depth == 0:
                return j
    return len(toks) - 1


def _statement_end(toks: list[tokenize.TokenInfo], i: int) -> int:
    """Index of the NEWLINE / ';' / end token ending the statement that contains token ``i``."""
    depth = 0
    for j in range(i, len(toks)):
        t = toks[j]
        if t.type == tokenize.OP and t.string in _OPEN:
            depth += 1
        elif t.type == tokenize.OP and t.string in _CLOSE:
            depth -= 1
        elif depth <= 0 and (t.type in (tokenize.NEWLINE, tokenize.ENDMARKER) or (t.type == tokenize.OP
                                                                                   and t.string == ";")):
            return j
    return len(toks) - 1


def _split_args(toks: list[tokenize.TokenInfo], open_i: int, close_i: int) -> list[tuple[int, int]]:
    """Token index ranges [a, b) of the top-level arguments between brackets ``open_i`` and ``close_i``."""
    parts: list[tuple[int, int]] = []
    depth, start = 0, open_i + 1
    for j in range(open_i + 1, close_i):
        s = toks[j].string
        if toks[j].type == tokenize.OP and s in _OPEN:
            depth += 1
        elif toks[j].type == tokenize.OP and s in _CLOSE:
            depth -= 1
        elif depth == 0 and toks[j].type == tokenize.OP and s == ",":
            parts.append((start, j))
            start = j + 1
    if start < close_i:
        parts.append((start, close_i))
    return parts


def port_source(source: str) -> PortResult:
    """Convert ``source`` (see the module docstring); never raises for a file that tokenizes."""
    edits = _Edits(source)
    notes: list[str] = []
    try:
        raw = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError) as exc:
        return PortResult(source, [f"cannot read the file's tokens: {exc}"], False, str(exc))
    toks = _significant(raw)
    text = edits.source

    def span(a: int, b: int) -> str:
        """Source text of tokens a..b-1."""
        return text[edits.offset(toks[a].start):edits.offset(toks[b - 1].end)] if b > a else ""

    depth = 0
    prev: tokenize.TokenInfo | None = None
    for i, t in enumerate(toks):
        at_statement = prev is None or prev.type in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT) or (
            prev.type == tokenize.OP and prev.string in (";", ":") and depth == 0)
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        if t.type == tokenize.OP:
            if t.string in _OPEN:
                depth += 1
            elif t.string in _CLOSE:
                depth -= 1
            elif t.string == "<>":
                edits.replace(t.start, t.end, "!=")
            elif t.string == "<" and nxt is not None and nxt.string == ">" and nxt.start == t.end:
                edits.replace(t.start, nxt.end, "!=")
        elif t.type == tokenize.ERRORTOKEN and t.string == "`":
            notes.append(f"{t.start[0]}: backticks are Python 2's repr(): write repr(...)")
        elif t.type == tokenize.NUMBER:
            s = t.string
            if len(s) > 1 and s[0] == "0" and s.isdigit() and s.strip("0"):
                edits.replace(t.start, t.end, "0o" + s[1:])
            elif s == "0" and nxt is not None and nxt.type == tokenize.NUMBER and nxt.start == t.end \
                    and nxt.string.isdigit():  # Python 3 tokenizers split 0755 into 0 and 755
                edits.replace(t.start, nxt.end, "0o" + nxt.string)
            if nxt is not None and nxt.type == tokenize.NAME and nxt.string in ("L", "l") and nxt.start == t.end:
                edits.replace(nxt.start, nxt.end, "")
        elif t.type == tokenize.NAME:
            after_dot = prev is not None and prev.type == tokenize.OP and prev.string == "."
            name = t.string
            if name == "print" and at_statement and not (nxt is not None and nxt.type == tokenize.OP
                                                        and nxt.string in ("=", ".", ",", ")")):
                _port_print(toks, i, edits, span)
            elif name in _RENAMES and not after_dot:
                edits.replace(t.start, t.end, _RENAMES[name])
            elif name == "long" and not after_dot and nxt is not None and nxt.string == "(":
                edits.replace(t.start, t.end, "int")
            elif name in _METHOD_RENAMES and after_dot:
                edits.replace(t.start, t.end, _METHOD_RENAMES[name])
            elif name == "except" and at_statement:
                _port_except(toks, i, edits)
            elif name == "raise" and at_statement:
                _port_raise(toks, i, edits, span, notes)
            elif name == "def" and nxt is not None and nxt.string == "before_trading_start":
                _port_bts(toks, i, edits)
            elif name == "data" and not after_dot and nxt is not None and nxt.string == "[":
                _port_old_bar(toks, i, edits, span)
            elif name in ("pd", "pandas") and not after_dot and nxt is not None and nxt.string == ".":
                _port_pandas(toks, i, edits, span, notes)
            elif name in _MANUAL and (after_dot or name not in ("has_key", "ix")) and (
                    name != "history" or (not after_dot and nxt is not None and nxt.string == "(")):
                notes.append(f"{t.start[0]}: {_MANUAL[name]}")
        prev = t
    new = edits.apply()
    try:
        compile(new, "<ported>", "exec")
    except SyntaxError as exc:
        return PortResult(new, notes, False, f"line {exc.lineno}: {exc.msg}")
    return PortResult(new, notes, True)


def _port_print(toks, i, edits, span) -> None:
    end = _statement_end(toks, i + 1)
    first = i + 1
    if first < end and toks[first].string == "(" and _matching(toks, first) == end - 1:
        return  # print(...) already (Python 3, or the same output in Python 2)
    args = span(first, end)
    sep_end = ""
    if first < end and toks[first].string == ">>":
        parts = _split_args_flat(toks, first + 1, end)
        target = span(*parts[0]) if parts else ""
        rest = ", ".join(span(a, b) for a, b in parts[1:])
        trailing = end - 1 > first and toks[end - 1].string == ","
        args = (rest + ", " if rest else "") + f"file={target}"
        if trailing:
            sep_end = ', end=" "'
    elif first < end and toks[end - 1].string == ",":
        args = span(first, end - 1)
        sep_end = ', end=" "'
    new = f"print({args}{sep_end})"
    if first < end:
        edits.replace(toks[i].start, toks[end - 1].end, new)
    else:
        edits.replace(toks[i].start, toks[i].end, "print()")


def _split_args_flat(toks, a: int, b: int) -> list[tuple[int, int]]:
    """Top-level comma-separated ranges of tokens a..b-1 (no enclosing brackets); empty parts dropped."""
    parts: list[tuple[int, int]] = []
    depth, start = 0, a
    for j in range(a, b):
        s = toks[j].string
        if toks[j].type == tokenize.OP and s in _OPEN:
            depth += 1
        elif toks[j].type == tokenize.OP and s in _CLOSE:
            depth -= 1
        elif depth == 0 and toks[j].type == tokenize.OP and s == ",":
            if j > start:
                parts.append((start, j))
            start = j + 1
    if b > start:
        parts.append((start, b))
    return parts


def _port_except(toks, i, edits) -> None:
    depth = 0
    for j in range(i + 1, len(toks)):
        t = toks[j]
        if t.type == tokenize.OP and t.string in _OPEN:
            depth += 1
        elif t.type == tokenize.OP and t.string in _CLOSE:
            depth -= 1
        elif t.type == tokenize.OP and t.string == ":" and depth == 0:
            return
        elif depth == 0 and t.type == tokenize.OP and t.string == ",":
            if j + 2 < len(toks) and toks[j + 1].type == tokenize.NAME and toks[j + 2].string == ":":
                edits.replace(t.start, toks[j + 1].start, " as ")
            return
        elif t.type == tokenize.NEWLINE:
            return


def _port_raise(toks, i, edits, span, notes) -> None:
    end = _statement_end(toks, i + 1)
    parts = _split_args_flat(toks, i + 1, end)
    if len(parts) == 2:
        edits.replace(toks[parts[0][0]].start, toks[end - 1].end, f"{span(*parts[0])}({span(*parts[1])})")
    elif len(parts) == 3:
        notes.append(f"{toks[i].start[0]}: raise E, value, traceback: write raise E(value).with_traceback(tb)")


def _port_bts(toks, i, edits) -> None:
    # def before_trading_start ( NAME )
    if i + 4 < len(toks) and toks[i + 2].string == "(" and toks[i + 3].type == tokenize.NAME \
            and toks[i + 4].string == ")":
        edits.replace(toks[i + 3].end, toks[i + 3].end, ", data")


def _port_old_bar(toks, i, edits, span) -> None:
    close = _matching(toks, i + 1)
    if close + 2 >= len(toks) or toks[close + 1].string != "." or toks[close + 2].type != tokenize.NAME:
        return
    asset = span(i + 2, close)
    attr = toks[close + 2].string
    call = close + 3 < len(toks) and toks[close + 3].string == "("
    if attr in _CURRENT_FIELDS and not call:
        edits.replace(toks[i].start, toks[close + 2].end, f"data.current({asset}, '{_CURRENT_FIELDS[attr]}')")
    elif attr in _HISTORY_METHODS and call:
        end = _matching(toks, close + 3)
        days = span(close + 4, end)
        edits.replace(toks[i].start, toks[end].end,
                      f"data.history({asset}, 'price', {days}, '1d').{_HISTORY_METHODS[attr]}()")


def _port_pandas(toks, i, edits, span, notes) -> None:
    if i + 3 >= len(toks) or toks[i + 2].type != tokenize.NAME or toks[i + 3].string != "(":
        return
    func = toks[i + 2].string
    close = _matching(toks, i + 3)
    args = _split_args(toks, i + 3, close)
    if func.startswith("rolling_") and func[8:] in _ROLLING and len(args) >= 2:
        rest = [span(a, b) for a, b in args[2:]]
        positional = span(*args[1])
        if "=" in positional:
            return
        edits.replace(toks[i].start, toks[close].end,
                      f"({span(*args[0])}).rolling({positional}).{func[8:]}({', '.join(rest)})")
    elif func in ("ewma", "ewmstd", "ewmvar") and len(args) >= 2:
        kwargs = ", ".join(span(a, b) for a, b in args[1:])
        method = {"ewma": "mean", "ewmstd": "std", "ewmvar": "var"}[func]
        edits.replace(toks[i].start, toks[close].end, f"({span(*args[0])}).ewm({kwargs}).{method}()")
    elif func in ("ols", "stats", "Panel"):
        notes.append(f"{toks[i].start[0]}: pd.{func} was removed from pandas (use statsmodels / a MultiIndex "
                     "DataFrame)")


def main(argv: list[str] | None = None) -> int:
    """``ibalgo port OLD.py [-o NEW.py]``: print the diff; write NEW.py when given."""
    parser = argparse.ArgumentParser(prog="ibalgo port", description="convert a Quantopian-era (Python 2) "
                                     "algorithm file to Python 3 and today's API, showing the diff")
    parser.add_argument("file", help="the algorithm file to convert")
    parser.add_argument("-o", "--output", help="where to write the converted file (default: only show the diff)")
    args = parser.parse_args(argv)
    path = Path(args.file)
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        sys.stderr.write(f"error: cannot read {path}: {exc}\n")
        return 1
    result = port_source(source)
    diff = difflib.unified_diff(source.splitlines(keepends=True), result.source.splitlines(keepends=True),
                                fromfile=str(path), tofile=args.output or f"{path} (converted)")
    text = "".join(diff)
    sys.stdout.write(text if text else f"{path}: nothing to convert\n")
    if text and not text.endswith("\n"):
        sys.stdout.write("\n")
    for note in result.notes:
        sys.stdout.write(f"note: {path}:{note}\n")
    if args.output:
        Path(args.output).write_text(result.source, encoding="utf-8")
        sys.stdout.write(f"wrote {args.output}\n")
    elif text:
        sys.stdout.write("(nothing written: give -o NEW.py to write the converted file)\n")
    if not result.compiles:
        sys.stderr.write(f"error: the converted file still has a syntax error ({result.error}): fix that line by "
                         "hand\n")
        return 1
    return 0
