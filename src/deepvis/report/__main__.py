"""``python -m deepvis.report``: see `deepvis.report.build`."""

import sys

from deepvis.report.build import main

sys.exit(main())
