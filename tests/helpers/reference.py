"""Which aio-pika the tests compare amqpio with.

aio-pika 10.x is the reference (one public API with 9.6 except where noted).
It needs Python 3.11+, so on 3.10 pip installs 9.6. Tests that compare with
behaviour or signatures 10.x changed carry ``needs_aio_pika_10``: on 3.10 they
are skipped rather than compared with the older release.
"""

from __future__ import annotations

from importlib.metadata import version

import pytest

AIO_PIKA_VERSION = tuple(int(part) for part in version("aio-pika").split(".")[:2])
AIO_PIKA_10 = AIO_PIKA_VERSION >= (10, 0)
#: pamqp 4 is the codec oracle; aio-pika 9.6 pins pamqp 3.3
PAMQP_4 = int(version("pamqp").split(".")[0]) >= 4

needs_aio_pika_10 = pytest.mark.skipif(
    not AIO_PIKA_10,
    reason=f"compares with aio-pika 10 (installed: {version('aio-pika')}, which "
    "differs here; aio-pika 10 needs Python 3.11+)",
)
