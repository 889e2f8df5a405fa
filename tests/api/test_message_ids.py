"""Message ids filled in for publishes without one (matching Basic.Return)."""

from __future__ import annotations

import os

import pytest

from amqpio import channel as channel_module


def test_ids_have_the_uuid4_hex_format_and_never_repeat() -> None:
    ids = [channel_module._new_message_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    for value in ids[:100]:
        assert len(value) == 32
        int(value, 16)


def test_a_new_seed_changes_the_random_half() -> None:
    before = channel_module._new_message_id()
    channel_module._seed_message_ids()
    after = channel_module._new_message_id()
    assert before[:16] != after[:16]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_does_not_repeat_the_parents_ids() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next id and leave at once
        try:
            os.write(write, channel_module._new_message_id().encode())
        finally:
            os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    parent = channel_module._new_message_id()
    assert len(child) == 32
    assert child[:16] != parent[:16]
