# The Azurite fixture (a real Azure Blob endpoint on loopback) is shared with the
# dependency wrappers' tests; it would belong in tests/support if more areas need it.
from tests.dependencies.conftest import azurite

__all__ = ["azurite"]
