"""The small backbones of the transfer-learning tests, shared here."""

from tests.transfer.conftest import images  # noqa: F401
from tests.transfer.conftest import tiny_backbone  # noqa: F401
