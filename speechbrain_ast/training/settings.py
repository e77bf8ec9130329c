"""A recipe YAML's plain values, and the ``auto`` values the data decides.

The CustomData and SSL recipes prepare their data before they build
anything: they need the YAML's plain values (``data_folder``,
``save_folder``, ...) first, then replace every key the YAML leaves
``auto`` by the value the preparation derived from the data
(``data_config.yaml``), and only then load the YAML with HyperPyYAML, so
that the objects are built with the derived values.

Authors
 * speechbrain-ast contributors 2026
"""

import yaml
from hyperpyyaml import resolve_references

AUTO = "auto"


class _IgnoreTagsLoader(yaml.SafeLoader):
    """A safe YAML loader that reads HyperPyYAML tags (objects) as None."""


_IgnoreTagsLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def plain_settings(hparams_file, overrides):
    """The YAML's values with references resolved, before any object is built.

    Arguments
    ---------
    hparams_file : str
        The recipe YAML.
    overrides : dict
        Command-line overrides.

    Returns
    -------
    dict
        Top-level keys; tagged entries (``!new:`` ...) come back unbuilt.

    Example
    -------
    >>> path = getfixture("tmpdir").join("h.yaml")
    >>> _ = path.write("seed: 1\\nfolder: !ref out/<seed>\\nmodel: !new:list\\n")
    >>> plain_settings(path.strpath, {"seed": 2})
    {'seed': 2, 'folder': 'out/2', 'model': None}
    """
    with open(hparams_file, encoding="utf-8") as fin:
        resolved = resolve_references(fin, overrides)
    return yaml.load(resolved, Loader=_IgnoreTagsLoader)


def data_decided(settings, from_data, overrides):
    """The settings with every key of ``from_data`` not given on the command line as ``auto``.

    A recipe YAML lists in ``from_data`` the keys its preparation measures
    (class count, input length, normalisation, a schedule fitted to the number
    of clips). The values the YAML writes for them only make it loadable
    without data, as SpeechBrain's ``load_yaml_test`` loads every YAML; a key
    given on the command line keeps the user's value, unless that is ``auto``.

    Arguments
    ---------
    settings : dict
        From :func:`plain_settings` (overrides applied).
    from_data : list of str
        The YAML's ``from_data`` list.
    overrides : dict
        Command-line overrides.

    Returns
    -------
    dict
        A copy of ``settings``.

    Raises
    ------
    ValueError
        When ``from_data`` is not a list of keys of the YAML.

    Example
    -------
    >>> settings = {"from_data": ["n_frames", "n_classes"], "n_frames": 512, "n_classes": 4}
    >>> data_decided(settings, settings["from_data"], {"n_classes": 4})
    {'from_data': ['n_frames', 'n_classes'], 'n_frames': 'auto', 'n_classes': 4}
    """
    if not isinstance(from_data, list) or any(key not in settings for key in from_data):
        raise ValueError(f"from_data must list keys of the YAML, got {from_data!r}")
    decided = dict(settings)
    for key in from_data:
        if key not in overrides:
            decided[key] = AUTO
    return decided


def with_derived_values(settings, overrides, data_config, keys):
    """Overrides plus the data-derived value of every key the YAML leaves ``auto``.

    Arguments
    ---------
    settings : dict
        From :func:`plain_settings`.
    overrides : dict
        Command-line overrides (they win).
    data_config : dict
        From ``data_config.yaml``.
    keys : iterable of str
        The keys that may say ``auto``.

    Returns
    -------
    dict
        Overrides for ``load_hyperpyyaml``.

    Example
    -------
    >>> with_derived_values({"norm_mean": "auto", "norm_std": 4.0}, {},
    ...                     {"norm_mean": -5.0, "norm_std": 3.0},
    ...                     ("norm_mean", "norm_std"))
    {'norm_mean': -5.0}
    """
    merged = dict(overrides)
    for key in keys:
        if settings.get(key) == AUTO and overrides.get(key, AUTO) == AUTO:
            merged[key] = data_config[key]
    return merged


def read_data_config(path):
    """Read a ``data_config.yaml`` (plain values a recipe's preparation wrote).

    Arguments
    ---------
    path : str
        The file.

    Returns
    -------
    dict
        Its values (empty for an empty file).

    Example
    -------
    >>> path = getfixture("tmpdir").join("c.yaml")
    >>> _ = path.write("norm_mean: -4.2\\n")
    >>> read_data_config(path.strpath)
    {'norm_mean': -4.2}
    """
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}
