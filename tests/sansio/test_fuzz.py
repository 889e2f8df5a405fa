"""Fuzz invariant: after a valid handshake, any bytes yield events or
``RemoteProtocolError``, nothing else (h11's fuzz/afl-server.py)."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from amqpio import spec
from amqpio.sansio import ConnectionState, Event, RemoteProtocolError
from helpers.broker import Pair

METHOD_IDS = [struct.pack(">HH", *key) for key in spec.METHODS]


def opened_pair() -> Pair:
    pair = Pair()
    pair.handshake(tune=spec.Connection.Tune(2047, 4096, 30))
    pair.open_channel()
    pair.conn.send_method(1, spec.Confirm.Select(no_wait=True))
    for _ in range(3):
        pair.conn.publish(1, "", "q", b"x")
    pair.sent()
    return pair


def frame(frame_type: int, channel: int, payload: bytes) -> bytes:
    return struct.pack(">BHI", frame_type, channel, len(payload)) + payload + b"\xce"


frames = st.builds(
    frame,
    st.sampled_from([1, 1, 1, 2, 3, 8]),
    st.sampled_from([0, 1, 2]),
    st.one_of(
        st.binary(max_size=64),
        st.builds(
            lambda ids, rest: ids + rest,
            st.sampled_from(METHOD_IDS),
            st.binary(max_size=40),
        ),
    ),
)


def feed(pair: Pair, chunks: list[bytes]) -> None:
    failed = False
    for now, chunk in enumerate(chunks):
        try:
            events = pair.conn.receive_data(chunk, float(now))
        except RemoteProtocolError as exc:
            assert not failed, "a second error after CLOSING"
            failed = True
            assert pair.conn.state is ConnectionState.CLOSING
            assert 500 <= exc.reply_code < 600 or exc.reply_code == 0
            events = exc.events
        assert all(isinstance(e, Event) for e in events)
        pair.conn.data_to_send()
        pair.conn.next_deadline()
    pair.conn.receive_eof()
    assert pair.conn.state is ConnectionState.CLOSED


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=200), max_size=8))
def test_arbitrary_bytes(chunks: list[bytes]) -> None:
    feed(opened_pair(), chunks)


@settings(max_examples=500, deadline=None)
@given(st.lists(frames, min_size=1, max_size=12))
def test_arbitrary_well_framed_frames(frame_list: list[bytes]) -> None:
    feed(opened_pair(), frame_list)
