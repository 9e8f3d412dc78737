"""Built-in search spaces and reference networks. Each module registers on import."""

from importlib import import_module
from pkgutil import iter_modules

for _m in iter_modules(__path__):
    if not _m.name.startswith("_"):
        import_module(f"{__name__}.{_m.name}")
