"""``python -m noisegen`` is the ``noisegen`` command."""

from .cli import main

raise SystemExit(main())
