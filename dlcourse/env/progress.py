"""Progress bars that render as a widget in JupyterLab and as plain text in logs and CI.

``tqdm.auto`` picks the right front end. The defaults here keep committed notebook outputs
stable: the bar is left in place with its final count, and its timing fields (which honestly
vary) are masked by the nbval sanitize file.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


def progress(iterable: Iterable[T], desc: str | None = None, total: int | None = None,
             leave: bool = True, **kwargs) -> tqdm:
    """Wrap ``iterable`` in a progress bar.

    Args:
        iterable: what to loop over.
        desc: a short label shown before the bar ("epoch 3").
        total: number of items, when ``len(iterable)`` is not defined.
        leave: keep the finished bar on screen.
        **kwargs: passed to ``tqdm`` (for example ``disable=True`` to silence it).

    Returns:
        The tqdm bar; iterate over it, and call ``bar.set_postfix(loss=...)`` to show metrics.
    """
    kwargs.setdefault("mininterval", 0.5)  # fewer redraws: cheaper, and calmer logs
    kwargs.setdefault("dynamic_ncols", True)
    return tqdm(iterable, desc=desc, total=total, leave=leave, **kwargs)
