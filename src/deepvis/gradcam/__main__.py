"""``python -m deepvis.gradcam IMG ...``: see `deepvis.gradcam.cli`."""

import sys

from deepvis.gradcam.cli import main

sys.exit(main())
