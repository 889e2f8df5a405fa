"""Test helpers: a fake broker whose wire bytes come from pamqp, not amqpio."""
