"""Test support shipped with amqpio (throwaway RabbitMQ brokers).

Nothing here is imported by the library itself; import the submodules directly,
e.g. ``from amqpio.testing.rabbitmq import RabbitNode``.
"""
