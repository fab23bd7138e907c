"""``python -m deepvis.gradcam IMG ...``: see `deepvis.gradcam.cli`."""

import sys

from deepvis.gradcam.quiet import quiet_tensorflow

quiet_tensorflow()  # before anything imports TensorFlow: only the tool's own lines on stderr

from deepvis.gradcam.cli import main  # noqa: E402

sys.exit(main())
