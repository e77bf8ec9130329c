"""Recording groups from file names, so that a split never cuts one recording in two.

Sound datasets are usually cut from longer recordings: several slices or
takes of one recording, several words of one speaker. Split clip by clip,
sibling slices land in training and in test, and the test accuracy measures
recognition of recordings the model has heard (measured: 75 % on such a split,
60 % on unseen recordings). A group is the recording a clip comes from; the
split keeps every group in one split.

The default rule (``group_regex: auto``) reads the common naming conventions
from a file's stem (its name without the extension), first match wins:

========================================  ===============================  ==============
Convention                                Example                          Group
========================================  ===============================  ==============
ESC-50 ``<fold>-<source>-<take>-<class>``  ``1-100032-A-0.wav``             ``1-100032``
UrbanSound8K ``<source>-<class>-<occurrence>-<slice>``  ``100032-3-0-0.wav``  ``100032``
Speech Commands ``<speaker>_nohash_<n>``  ``0a7c2a8d_nohash_1.wav``         ``0a7c2a8d``
``<name><sep>[slice|take|part|...]<n>``   ``bark_03.wav``, ``rec-take2.wav``  ``bark``, ``rec``
========================================  ===============================  ==============

A stem that matches none is its own group. ``group_regex: none`` makes every
file its own group; any other value is a regular expression searched in the
stem whose named group ``group`` (or first group) is the recording id. A
derived group holding every clip of a class (``dog_1.wav`` ... ``dog_40.wav``
in ``dog/``: a counter, not a recording) is not used, and said so.

Authors
 * speechbrain-ast contributors 2026
"""

import collections
import os
import re

__all__ = ["AUTO_RULES", "assign_groups", "group_of", "group_leaks"]

AUTO_RULES = (
    re.compile(r"^(?P<group>\d+-[0-9A-Za-z]+)-[A-Z]-\d+$"),  # ESC-50
    re.compile(r"^(?P<group>\d+)-\d+-\d+-\d+$"),  # UrbanSound8K
    re.compile(r"^(?P<group>[0-9a-f]{8})_nohash_\d+$"),  # Speech Commands
    re.compile(
        r"^(?P<group>.*[A-Za-z].*?)[-_. ]+(?:slice|take|part|seg|segment|chunk|clip|cut)?"
        r"[-_ ]*\d+$",
        re.IGNORECASE,
    ),
)


def _rules(group_regex):
    """The compiled rules of a ``group_regex`` setting (None: one group per file)."""
    if group_regex in (None, "none", "None", False):
        return None
    if group_regex == "auto":
        return AUTO_RULES
    try:
        return (re.compile(group_regex),)
    except re.error as error:
        raise ValueError(
            f"group_regex {group_regex!r} is not a regular expression: {error}"
        ) from None


def group_of(path, rules):
    """The recording id of ``path`` by ``rules``, or None when no rule matches.

    Arguments
    ---------
    path : str
        An audio file.
    rules : tuple of re.Pattern
        Tried in order on the file's stem.

    Returns
    -------
    str or None
        The id.

    Example
    -------
    >>> [group_of(name, AUTO_RULES) for name in ("1-100032-A-0.wav", "100032-3-0-0.wav",
    ...     "0a7c2a8d_nohash_1.wav", "bark_03.wav", "rec-take2.flac", "0042.wav")]
    ['1-100032', '100032', '0a7c2a8d', 'bark', 'rec', None]
    """
    stem = os.path.splitext(os.path.basename(path))[0]
    for rule in rules:
        match = rule.search(stem)
        if match:
            found = match.groupdict().get("group") or (match.group(1) if rule.groups else None)
            if found:
                return found
    return None


def assign_groups(rows, group_regex="auto"):
    """Fill in the ``group`` of the rows whose data gave none.

    Arguments
    ---------
    rows : list of dict
        Rows with ``path``, ``labels`` and ``group`` (None: not given).
    group_regex : str or None
        ``auto``, ``none`` or a regular expression (see the module docstring).

    Returns
    -------
    list of str
        Notes for the split summary (counter-like stems not used as groups).

    Example
    -------
    >>> rows = [{"path": f"dog/{n}-1-A-0.wav", "labels": ["dog"], "group": None} for n in (1, 2)]
    >>> rows += [{"path": f"cat/cat_{n}.wav", "labels": ["cat"], "group": None} for n in range(3)]
    >>> assign_groups(rows)
    ["class cat: all 3 clips would be one group 'cat' (a counter in the names?): one group per file"]
    >>> [row["group"] for row in rows]
    ['1-1', '2-1', 'cat/cat_0.wav', 'cat/cat_1.wav', 'cat/cat_2.wav']
    """
    rules = _rules(group_regex)
    derived = {}
    for index, row in enumerate(rows):
        if row.get("group") is None and rules is not None:
            found = group_of(row["path"], rules)
            if found is not None:
                derived[index] = found
    notes = []
    by_class = collections.defaultdict(list)
    for index, row in enumerate(rows):
        for label in row["labels"]:
            by_class[label].append(index)
    counters = set()
    for label in sorted(by_class):
        members = by_class[label]
        names = {derived.get(index) for index in members}
        if len(members) >= 3 and len(names) == 1 and None not in names:
            name = names.pop()
            if name not in counters:
                counters.add(name)
                notes.append(
                    f"class {label}: all {len(members)} clips would be one group "
                    f"{name!r} (a counter in the names?): one group per file"
                )
    for index, row in enumerate(rows):
        if row.get("group") is None:
            name = derived.get(index)
            row["group"] = row["path"] if name is None or name in counters else name
    return notes


def group_leaks(splits):
    """Held-out clips whose group also has clips in training.

    Arguments
    ---------
    splits : dict
        ``{"train", "valid", "test"}`` -> rows with ``group``.

    Returns
    -------
    dict
        ``{"valid": n, "test": n}``.

    Example
    -------
    >>> splits = {"train": [{"group": "a"}], "valid": [{"group": "a"}], "test": [{"group": "b"}]}
    >>> group_leaks(splits)
    {'valid': 1, 'test': 0}
    """
    seen = {row["group"] for row in splits["train"]}
    return {
        split: sum(row["group"] in seen for row in splits[split]) for split in ("valid", "test")
    }
