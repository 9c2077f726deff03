"""Output folders named on the command line (`build -o`, `prove --trace-out`), checked before
any work starts: a long run must not end in a write error, and a bad path is the user's
mistake (exit 2), not irqc's."""
from __future__ import annotations

import os


def output_dir_problem(option: str, path: str, *, writable: bool = True) -> str | None:
    """Why `path` cannot be, or be made into, a folder to write into; None when it can.

    `writable=False` only asks that it be a folder or absent (`build --check` reads)."""
    shown = f"{option} {path}"
    try:
        os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        pass  # absent, or under a file: told apart below
    except OSError as e:  # a name too long, a loop of links, no permission to look
        return f"{shown}: {e.strerror or e}"
    if os.path.islink(path) and not os.path.exists(path):
        return f"{shown}: is a symbolic link to {os.readlink(path)!r}, which does not exist"
    if os.path.exists(path):
        if not os.path.isdir(path):
            return f"{shown}: exists and is not a folder"
        if writable and not os.access(path, os.W_OK | os.X_OK):
            return f"{shown}: the folder is not writable"
        return None
    ancestor = _nearest_existing(path)
    if not os.path.isdir(ancestor):
        return f"{shown}: cannot create it: {ancestor} is not a folder"
    if writable and not os.access(ancestor, os.W_OK | os.X_OK):
        return f"{shown}: cannot create it: {ancestor} is not writable"
    return None


def _nearest_existing(path: str) -> str:
    """The nearest ancestor of `path` that exists (`..` taken lexically, as abspath does)."""
    current = os.path.abspath(path)
    while not os.path.lexists(current):
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    return current
