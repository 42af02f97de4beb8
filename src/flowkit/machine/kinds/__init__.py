"""One module per query kind; importing this package registers them all.

Adding a kind is adding a module here: every module of the package is imported.
"""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
