import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "soak: full-size load through real processes (about 30 s on 2 cores); "
        "deselect with -m 'not soak'",
    )
