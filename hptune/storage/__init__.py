"""Storages: where studies and trials live (memory, SQLite, PostgreSQL)."""

from __future__ import annotations

from hptune.exceptions import StorageURLError
from hptune.storage._copy import copy_study
from hptune.storage.base import Storage, StudyRecord
from hptune.storage.memory import InMemoryStorage

__all__ = ["InMemoryStorage", "Storage", "StudyRecord", "copy_study", "get_storage"]


def get_storage(storage: Storage | str | None) -> Storage:
    """Return ``storage`` as an object: None is memory, a string is a database URL.

    Example:
        >>> get_storage(None)  # doctest: +ELLIPSIS
        <hptune.storage.memory.InMemoryStorage object at ...>
    """
    if storage is None:
        return InMemoryStorage()
    if isinstance(storage, Storage):
        return storage
    if isinstance(storage, str):
        from hptune.storage.sql import SQLStorage

        return SQLStorage(storage)
    raise StorageURLError(
        f"storage must be None, a URL such as 'sqlite:///hptune.db', or a Storage object, "
        f"got {storage!r}."
    )
