"""Test helpers: a fake broker speaking the server side with the generated codec."""
