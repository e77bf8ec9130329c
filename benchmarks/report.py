"""Markdown output of the benchmarks: sections of RESULTS.md between markers.

Every script of ``benchmarks/`` writes its tables between
``<!-- BEGIN benchmark.py output: KEY -->`` and the matching END marker, so a
new run replaces only its own section and hand-written analysis around it
survives.
"""

import os

MARK_BEGIN = "<!-- BEGIN benchmark.py output: {key} -->"
MARK_END = "<!-- END benchmark.py output: {key} -->"


def fmt_bytes(value):
    """Bytes as MB/GB text ("-" when unknown).

    Example
    -------
    >>> fmt_bytes(3.5e9), fmt_bytes(12e6), fmt_bytes(None)
    ('3.50 GB', '12 MB', '-')
    """
    if value is None:
        return "-"
    if abs(value) >= 1e9:
        return f"{value / 1e9:.2f} GB"
    return f"{value / 1e6:.0f} MB"


def markdown_table(header, rows):
    """Lines of a Markdown table.

    Example
    -------
    >>> print("\\n".join(markdown_table(["a", "b"], [[1, 2]])))
    | a | b |
    |---|---|
    | 1 | 2 |
    """
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def write_report(path, key, text):
    """Put ``text`` between this key's markers in ``path``, keeping the rest."""
    begin, end = MARK_BEGIN.format(key=key), MARK_END.format(key=key)
    block = f"{begin}\n{text}{end}\n"
    old = ""
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as handle:
            old = handle.read()
    if begin in old and end in old:
        head, rest = old.split(begin, 1)
        new = head + block + rest.split(end, 1)[1].lstrip("\n")
    else:
        if not old:
            old = "# Benchmark results\n\nWritten by `benchmarks/benchmark.py`.\n"
        new = old.rstrip("\n") + "\n\n" + block
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path + ".tmp", "w", encoding="utf-8") as handle:
        handle.write(new)
    os.replace(path + ".tmp", path)
