"""Shared set-up: the example's directory on sys.path, and a helper to force thread
switches (the seeds' advice for testing races)."""

import contextlib
import os
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "examples", "python"))
sys.path.insert(0, os.path.dirname(__file__))


@contextlib.contextmanager
def tiny_switch_interval(seconds: float = 1e-6):
    """Makes the interpreter switch threads as often as it can, so races show up."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(seconds)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


@pytest.fixture
def switchy():
    with tiny_switch_interval():
        yield


def pytest_sessionstart(session):
    """With TALLY_EXPECT_INSTALLED=1 (CI, testing the built wheel), `tally` must come from
    the virtualenv's site-packages, not from the source tree or an editable build."""
    if os.environ.get("TALLY_EXPECT_INSTALLED") == "1":
        import tally

        where = os.path.realpath(tally.__file__)
        site = os.path.realpath(sys.prefix)
        assert where.startswith(site) and "site-packages" in where, (
            f"tally was imported from {where}, not from the installed wheel in {site}"
        )
