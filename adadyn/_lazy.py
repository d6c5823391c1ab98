"""Lazy package namespaces: public names of submodules, loaded on first use."""
from __future__ import annotations

import importlib


def lazy_namespace(package: str, submodules: tuple[str, ...], namespace: dict):
    """``(__getattr__, __dir__)`` for ``package`` exposing every name in the ``__all__``
    of its ``submodules`` (absent submodules are skipped). Found names are cached in
    ``namespace`` (the package's globals)."""

    def modules():
        for name in submodules:
            try:
                yield importlib.import_module(f"{package}.{name}")
            except ModuleNotFoundError as exc:
                if exc.name != f"{package}.{name}":
                    raise

    def __getattr__(name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        for mod in modules():
            if name in getattr(mod, "__all__", ()):
                value = getattr(mod, name)
                namespace[name] = value
                return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        names = set(namespace)
        for mod in modules():
            names.update(getattr(mod, "__all__", ()))
        return sorted(names)

    return __getattr__, __dir__
