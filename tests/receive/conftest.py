import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "slow: over about 20 s on a busy 2-core machine (hypothesis against a real collector); "
        "deselect with -m 'not slow'",
    )
