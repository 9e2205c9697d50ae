"""A named registry of plug-in classes (detectors, obfuscators), one shape for all of them."""

from __future__ import annotations

import inspect
from typing import Any, Generic, TypeVar

from privis.errors import PrivisError, UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to classes; refuses silent overwrites and unknown names.

    Examples
    --------
    >>> reg = Registry("widget")
    >>> @reg.register("round")
    ... class Round:
    ...     def __init__(self, size=1):
    ...         self.size = size
    >>> reg.create("round", size=3).size
    3
    >>> reg.names()
    ['round']
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._classes: dict[str, type[T]] = {}

    def register(self, name: str, cls: type[T] | None = None, *, force: bool = False) -> Any:
        """Register `cls` under `name`; usable as a decorator when `cls` is omitted."""

        def add(klass: type[T]) -> type[T]:
            if name in self._classes and not force and self._classes[name] is not klass:
                raise PrivisError(
                    f"a {self.kind} named {name!r} is already registered "
                    f"({self._classes[name].__name__}); pass force=True to replace it"
                )
            self._classes[name] = klass
            klass.name = name  # type: ignore[attr-defined]
            return klass

        return add if cls is None else add(cls)

    def unregister(self, name: str) -> None:
        """Remove `name` (for tests and plug-ins that replace a built-in)."""
        self._classes.pop(name, None)

    def get(self, name: str) -> type[T]:
        """The class registered under `name`."""
        try:
            return self._classes[name]
        except KeyError:
            known = ", ".join(sorted(self._classes)) or "none"
            raise UnknownNameError(f"unknown {self.kind} {name!r}; known: {known}") from None

    def create(self, name: str, **options: Any) -> T:
        """An instance of the class registered under `name`, built with `options`.

        Options the class does not take are refused by name before it is built; a
        `TypeError` raised inside the constructor is a bug and is not reworded.
        """
        cls = self.get(name)
        try:
            inspect.signature(cls).bind(**options)
        except TypeError:
            params = inspect.signature(cls).parameters.values()
            takes = sorted(p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD))
            unknown = sorted(set(options) - set(takes))
            what = f"no option {', '.join(unknown)}" if unknown else f"these options ({', '.join(sorted(options))})"
            known = ", ".join(takes) or "none"
            raise PrivisError(f"the {self.kind} {name!r} takes {what}; it takes: {known}") from None
        return cls(**options)

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._classes)

    def snapshot(self) -> dict[str, type[T]]:
        """A copy of the table (tests restore it with `restore`)."""
        return dict(self._classes)

    def restore(self, table: dict[str, type[T]]) -> None:
        """Put back a table taken by `snapshot`."""
        self._classes = dict(table)
