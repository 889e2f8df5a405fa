"""Run at interpreter start-up (this directory is first on PYTHONPATH).

The examples import ``amqpio`` directly (issue 4: only their import line
changed), so the routing to the test broker must be in place before their
first line: importing the shim's ``aio_pika`` installs it.
"""

import os

if os.environ.get("AMQPIO_EXAMPLE_URL"):
    import aio_pika  # noqa: F401  (installs the aliases and the broker routing)
