"""Text output that fits a terminal: every command's tables and long lines go through here.

The width is the terminal's when stdout is one (``$COLUMNS`` first, as ``shutil`` reads it),
else 120, so a file or a pipe gets the same lines whoever runs the command and whatever
``$COLUMNS`` a parent process left in the environment. A table wider than that has its long
columns narrowed, their values wrapping inside them; if that is not enough it is split into
column groups, each repeating the first column (the row's key) the way a wide data frame
prints. A line of prose or of items (a histogram's buckets) wraps with a hanging indent.
Nothing is cut: every value is printed whole, only across lines (docs/cli.md#width).
"""

from __future__ import annotations

import shutil
import sys
import textwrap
from collections.abc import Sequence

#: The width of output that is not a terminal (a file, a pipe).
DEFAULT_WIDTH = 120
#: Narrower than this, a split table would be a column a screen: lines are allowed to run on.
MIN_WIDTH = 40
_GAP = "  "
NO_ROWS = "(none in this time window)"


def output_width() -> int:
    """The terminal's columns (or ``$COLUMNS``) when stdout is a terminal, else 120."""
    try:
        terminal = sys.stdout.isatty()
    except ValueError:  # closed
        terminal = False
    if not terminal:
        return DEFAULT_WIDTH
    return max(MIN_WIDTH, shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns)


def table(
    headings: Sequence[str],
    rows: Sequence[Sequence[str]],
    width: int | None = None,
    empty: str = NO_ROWS,
) -> str:
    """Left-aligned columns within ``width`` (the output's by default); ``empty`` under the
    headings when there are no rows."""
    width = output_width() if width is None else width
    natural = [max([len(h)] + [len(row[i]) for row in rows]) for i, h in enumerate(headings)]
    groups = [list(range(len(headings)))]
    widths = _narrowed(natural, width)
    if _span(widths) > width and len(headings) > 1:
        # Too many columns to fit side by side: groups of them, each with the key column,
        # which keeps at most half the width (the others get what is left).
        key = min(natural[0], max(width // 2, len(headings[0])))
        room = width - key - len(_GAP)
        widths = [key] + [min(w, room) for w in natural[1:]]
        groups = []
        group: list[int] = []
        for index in range(1, len(headings)):
            if group and _span([widths[i] for i in group] + [widths[index]]) > room:
                groups.append([0, *group])
                group = []
            group.append(index)
        groups.append([0, *group])
    parts = [_lines([headings, *rows], [(i, widths[i]) for i in group]) for group in groups]
    text = "\n\n".join(parts) + "\n"
    return text + empty + "\n" if not rows else text


#: Columns no longer than this are never narrowed (a trace id, 32 hex digits, a time, a
#: number stay whole on their line); longer ones are, down to ``NARROWEST``, to fit.
KEPT_WHOLE = 32
NARROWEST = 24


def _narrowed(natural: Sequence[int], width: int) -> list[int]:
    """The widest long columns narrowed (their cells wrap) until the table fits or none is
    left to narrow, the widest first so that two long columns share the narrowing."""
    widths = list(natural)
    excess = _span(widths) - width
    while excess > 0:
        long = [i for i, w in enumerate(widths) if natural[i] > KEPT_WHOLE and w > NARROWEST]
        if not long:
            break
        widest = max(long, key=lambda i: widths[i])
        next_widest = max((widths[i] for i in long if i != widest), default=NARROWEST)
        target = max(NARROWEST, widths[widest] - excess, min(next_widest, widths[widest] - 1))
        excess -= widths[widest] - target
        widths[widest] = target
    return widths


def _span(widths: Sequence[int]) -> int:
    return sum(widths) + len(_GAP) * (len(widths) - 1)


def _lines(rows: Sequence[Sequence[str]], columns: Sequence[tuple[int, int]]) -> str:
    lines = []
    for row in rows:
        cells = [_wrap_cell(row[i], w) for i, w in columns]
        for depth in range(max(len(cell) for cell in cells)):
            parts = [
                (cell[depth] if depth < len(cell) else "").ljust(w)
                for cell, (_, w) in zip(cells, columns, strict=True)
            ]
            lines.append(_GAP.join(parts).rstrip())
    return "\n".join(lines)


def _wrap_cell(text: str, width: int) -> list[str]:
    if len(text) <= width:
        return [text]
    # Words where there are some (labels, a list of steps), else a hard break (an id).
    return textwrap.wrap(text, width, break_on_hyphens=False) or [text]


def wrap(text: str, width: int | None = None, indent: int = 2) -> str:
    """One line of prose within ``width``, continued with a hanging indent; a word longer
    than a line (an id, a URL) is kept whole on a line of its own."""
    width = output_width() if width is None else width
    lead = len(text) - len(text.lstrip(" "))
    return (
        textwrap.fill(
            text,
            width,
            subsequent_indent=" " * (lead + indent),
            break_long_words=False,
            break_on_hyphens=False,
        )
        + "\n"
    )


def wrap_items(
    head: str, items: Sequence[str], width: int | None = None, separator: str = "  "
) -> str:
    """``head`` and then ``items`` (each kept whole, ``(5, 50] 3`` say) as many to a line as
    fit, continued with a hanging indent."""
    width = output_width() if width is None else width
    indent = " " * (len(head) - len(head.lstrip(" ")) + 2)
    lines: list[str] = []
    current, fresh = head.rstrip(), False  # fresh: a continuation line with no item yet
    for index, item in enumerate(items):
        joined = current + ("" if fresh else " " if index == 0 else separator) + item
        if len(joined) > width and not fresh:
            lines.append(current)
            joined = indent + item
        current, fresh = joined, False
    lines.append(current)
    return "\n".join(lines) + "\n"


def fit_text(text: str, width: int | None = None) -> str:
    """Every line of a rendered text (a trace, a transcript, the app map) within ``width``:
    a longer line wraps under its own indent."""
    width = output_width() if width is None else width
    out = []
    for line in text.splitlines():
        out.append(wrap(line, width).rstrip("\n") if len(line) > width else line)
    return "\n".join(out) + ("\n" if text.endswith("\n") else "")


def limit_note(shown: int, limit: int, what: str, cap: int) -> str:
    """A line under a list that stopped at its limit (``cap``: the most a running serve
    answers), which otherwise looks like all there is."""
    if shown < limit and not (shown == cap < limit):
        return ""
    return f"(the newest {shown} {what}; there may be more: --limit, --since, --until)\n"
