"""Progress bars for long steps (tqdm.auto: a widget in Jupyter, text in a terminal).

Shown only where someone watches: a terminal (stderr is a TTY) or a Jupyter
kernel. Silent in scripts, cron jobs, CI logs and piped output, when a caller
passes ``progress=False``, or when the environment sets
``TERRITORY_OPT_PROGRESS=0``; ``progress=True`` forces them on.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Iterable
from typing import Any

__all__ = ["bar", "in_notebook", "progress_enabled"]

ENV = "TERRITORY_OPT_PROGRESS"


def in_notebook() -> bool:
    """True inside a Jupyter kernel (not a plain IPython terminal)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None  # type: ignore[attr-defined]
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})


def progress_enabled(progress: bool | None = None) -> bool:
    """Whether to draw bars: ``progress`` if given, else the environment decides."""
    if progress is not None:
        return bool(progress)
    setting = os.environ.get(ENV, "").strip().lower()
    if setting in {"0", "false", "no", "off"}:
        return False
    if setting in {"1", "true", "yes", "on"}:
        return True
    stream = sys.stderr
    return in_notebook() or bool(stream is not None and hasattr(stream, "isatty")
                                 and stream.isatty())


def bar(iterable: Iterable[Any] | None = None, *, total: int | None = None, desc: str,
        unit: str = "it", progress: bool | None = None) -> Any:
    """A tqdm bar (disabled, costing nothing, unless :func:`progress_enabled`)."""
    with warnings.catch_warnings():  # tqdm.auto warns once when ipywidgets is missing
        warnings.simplefilter("ignore")
        from tqdm.auto import tqdm
    return tqdm(iterable, total=total, desc=desc, unit=unit,
                disable=not progress_enabled(progress), leave=True, dynamic_ncols=True)
