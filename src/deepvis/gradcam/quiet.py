"""The Grad-CAM commands' quiet terminal is the project's (`deepvis.quiet`)."""

from deepvis.quiet import quiet_terminal as quiet_tensorflow

__all__ = ["quiet_tensorflow"]
