"""A path's leading '~' that no shell expanded: the one check behind every refusal of such a path (an
output folder, a bank's cache, ``NUMBA_CACHE_DIR``), whose folders would be made in the current one."""

from __future__ import annotations

import os

__all__ = ["meant_home"]


def meant_home(path) -> str | None:
    """The path ``path`` likely meant, where it starts with a '~' no shell expanded (it was quoted, or came
    from Python or a Dockerfile's ``ENV``) and no such folder is here; else None (a './~' folder that is
    there is taken as it is)."""
    text = os.fsdecode(path)
    if not text.startswith("~") or os.path.lexists(text.split(os.sep)[0]):
        return None
    meant = os.path.expanduser(text)
    return None if meant == text else meant
