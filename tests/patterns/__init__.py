"""amqpio.patterns and amqpio.pool without a broker."""
