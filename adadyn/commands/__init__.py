"""CLI subcommands and demo sections.

Each module here may define ``register(subparsers)`` (adds an ``adadyn``
subcommand) and ``demo(out_dir: pathlib.Path) -> str`` (a section of
``adadyn demo``: writes its figures into out_dir and returns its text for the
summary). :mod:`adadyn.cli` discovers them in the order of ``SECTIONS``.
"""
SECTIONS = ("flows", "stability", "phase", "sweep", "reproduce", "nn")
