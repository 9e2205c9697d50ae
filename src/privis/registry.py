"""A named registry of plug-in classes (detectors, obfuscators), one shape for all of them.

Third-party packages add theirs through entry points (``privis.detectors``,
``privis.obfuscators``), found the first time a name is not known or the names are listed.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any, Generic, TypeVar

from privis.errors import PrivisError, UnknownNameError

T = TypeVar("T")
log = logging.getLogger(__name__)


def takes(cls: type) -> set[str]:
    """The keyword options `cls`'s constructors take, over its bases.

    >>> class A:
    ...     def __init__(self, *, shape="box"): ...
    >>> class B(A):
    ...     def __init__(self, *, level=1, **kw): ...
    >>> sorted(takes(B))
    ['level', 'shape']
    """
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        names |= {p.name for p in inspect.signature(init).parameters.values()
                  if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and p.name != "self"}  # fmt: skip
    return names


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

    def __init__(self, kind: str, entry_points: str | None = None) -> None:
        self.kind = kind
        self.entry_points = entry_points  # the group third-party packages register under
        self._classes: dict[str, type[T]] = {}
        self._plugins_loaded = entry_points is None

    def load_plugins(self) -> None:
        """Register the classes that installed packages name under this registry's entry-point
        group (once). A plug-in that fails to import is logged and left out, never fatal."""
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        from importlib.metadata import entry_points

        for ep in entry_points(group=str(self.entry_points)):
            if ep.name in self._classes:
                log.warning("%s plug-in %r (%s) ignored: the name is taken", self.kind, ep.name, ep.value)
                continue
            try:
                self.register(ep.name, ep.load())
            except Exception as exc:  # noqa: BLE001 - someone else's package: say so and go on
                log.warning("%s plug-in %r (%s) could not be loaded: %s", self.kind, ep.name, ep.value, exc)

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
        """The class registered under `name` (built-in, registered in code, or a plug-in's)."""
        if name not in self._classes:
            self.load_plugins()
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
        """Registered names (plug-ins' too), sorted."""
        self.load_plugins()
        return sorted(self._classes)

    def snapshot(self) -> dict[str, type[T]]:
        """A copy of the table (tests restore it with `restore`)."""
        return dict(self._classes)

    def restore(self, table: dict[str, type[T]]) -> None:
        """Put back a table taken by `snapshot`."""
        self._classes = dict(table)
