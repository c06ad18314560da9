"""`python -m mapsynth_backend` is how the QGIS plugin launches the backend (with `-I`)."""

import sys

from .cli import main

sys.exit(main())
