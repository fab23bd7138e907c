"""The report tests build into temporary folders: never into the project's report/."""

import pytest


@pytest.fixture(autouse=True)
def _temporary_project(project_home):
    """Every report test runs with `deepvis.config.paths()` in a temporary folder."""
    return project_home
