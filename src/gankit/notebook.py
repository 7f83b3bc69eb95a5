"""Where gankit's output goes: a Jupyter notebook or a terminal.

- `in_notebook()`: this process is a Jupyter kernel (a notebook, JupyterLab, VS Code), not a terminal;
- `progress_bar(...)`: every progress bar gankit shows (training, the classifier's training, a download), a
  notebook widget (tqdm.notebook) where ipywidgets is
  installed (`pip install 'gankit[notebook]'`), else the terminal bar (tqdm) in plain ASCII, written
  in place with carriage returns only, so that a notebook without ipywidgets shows one line, not one
  line per update; none inside `silenced()` (`--quiet`, `progress=False`), whatever the code below asks;
- `Display`: one output area of a notebook cell that a PNG is drawn into and then replaced in place;
- `brief_errors()`: in a notebook, a GankitError shows as its one-line message, not a traceback through
  gankit's code (the message is the whole explanation: what was wrong, and what is accepted).

Nothing here imports IPython or ipywidgets unless a kernel is running, so that `import gankit` in a
terminal or a notebook without ipywidgets prints no warning.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

_silent: ContextVar[bool] = ContextVar("gankit_silent", default=False)


@contextmanager
def silenced(silent: bool = True) -> Iterator[None]:
    """No progress bar inside the block when `silent` (a block inside a silenced one stays silenced)."""
    token = _silent.set(_silent.get() or silent)
    try:
        yield
    finally:
        _silent.reset(token)


def in_notebook() -> bool:
    """Whether this process is a Jupyter kernel that displays rich output (not IPython in a terminal)."""
    if "ipykernel" not in sys.modules or "IPython" not in sys.modules:
        return False
    shell = sys.modules["IPython"].get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def has_widgets() -> bool:
    return importlib.util.find_spec("ipywidgets") is not None


def progress_bar(
    *, total: int | None, desc: str, initial: int = 0, disable: bool = False, unit: str = "step", **options: Any
) -> Any:
    """A tqdm bar (over training steps by default), for the front end this process runs in; `options` go to tqdm."""
    common = dict(total=total, initial=initial, disable=disable or _silent.get(), unit=unit, desc=desc, **options)
    if in_notebook() and has_widgets():
        from tqdm.notebook import tqdm as notebook_tqdm

        return notebook_tqdm(**common)
    from tqdm import tqdm

    if in_notebook():
        # No widgets: a fixed-width ASCII bar redrawn with "\r" (a notebook shows it as one line), at most
        # once a second; tqdm's terminal-size probing and cursor moves would print a line per update.
        return tqdm(**common, file=sys.stderr, ascii=True, ncols=100, mininterval=1.0)
    return tqdm(**common, file=sys.stderr, dynamic_ncols=True)


class Display:
    """One output area of the running notebook cell, showing a PNG (or text) that `show` replaces in place."""

    def __init__(self) -> None:
        self._handle = None

    def show(self, content: bytes | str) -> None:
        from IPython.display import Image, Pretty, display

        shown = Pretty(content) if isinstance(content, str) else Image(data=content)
        if self._handle is None:
            self._handle = display(shown, display_id=True)
        else:
            self._handle.update(shown)


def say(text: str) -> None:
    """One line for the user (on stderr, which a notebook shows under the cell): what gankit noticed or chose."""
    print(f"gankit: {text}", file=sys.stderr, flush=True)


def brief_errors() -> None:
    """In a running notebook kernel, show each GankitError as `GankitError: message` and nothing more."""
    if not in_notebook():
        return
    from gankit.errors import GankitError

    def show(shell: Any, kind: type, error: BaseException, _traceback: Any, tb_offset: Any = None) -> None:
        line = f"{kind.__name__}: {error}"
        if hasattr(shell, "_showtraceback"):  # the kernel's error message: the cell fails, with this line only
            shell._showtraceback(kind, error, [line])
        else:
            print(line, file=sys.stderr)

    sys.modules["IPython"].get_ipython().set_custom_exc((GankitError,), show)
