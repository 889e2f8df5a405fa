"""Compatibility suites: third-party libraries built on aio-pika, run on amqpio.

``test_faststream.py`` proves that FastStream's RabbitMQ broker behaves the
same on amqpio (through ``amqpio.install_as_aio_pika()``) as on aio-pika.
"""
