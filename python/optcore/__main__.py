"""``python -m optcore``: the ``optcore`` command (see :mod:`optcore.cli`)."""

from optcore.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
