"""Codec throughput, amqpio beside pamqp, in one run; reported as ratios.

    python benchmarks/codec_bench.py [--seconds 0.5] [--repeat 5]

(a) encode Basic.Publish + content header (content_type, delivery_mode, two
    headers) + 64-byte body into one bytes object (both sides join);
(b) decode a Basic.Deliver + header + 64-byte body byte stream into
    (method, properties, body): for amqpio through the sans-IO core's
    ``receive_data``, the path the client takes for every delivery (state
    machines and content assembly included, which pamqp does not do);
    (b2) the same with amqpio's decoders alone;
(c) encode and decode a 20-key headers table with mixed value types.

Each case builds its objects inside the timed function, as a client would.
The figure is the best of ``--repeat`` runs of about ``--seconds`` each.
"""

from __future__ import annotations

import argparse
import datetime
import decimal
import platform
import sys
import time
from collections.abc import Callable

from pamqp import body as pbody
from pamqp import commands as pcommands
from pamqp import decode as pdecode
from pamqp import encode as pencode
from pamqp import frame as pframe
from pamqp import header as pheader

from amqpio.codec import FrameReader, decode_table, encode_content, encode_table
from amqpio.sansio import Connection, ConnectionConfig, DeliveryReceived
from amqpio.spec import Basic, BasicProperties, decode_content_header, decode_method

BODY = b"x" * 64
FRAME_MAX = 131072
# values both codecs encode with the same type (pamqp picks the smallest
# integer type, amqpio a 32-bit one: 3 would differ, 100000 does not)
HEADERS = {"x-retry": 100000, "x-source": "billing"}
TABLE = {
    "s1": "string value",
    "s2": "another string",
    "s3": "",
    "i1": 1,
    "i2": -123456,
    "i3": 2**40,
    "b1": True,
    "b2": False,
    "f1": 3.25,
    "f2": -0.5,
    "d1": decimal.Decimal("12.345"),
    "t1": datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc),
    "n1": None,
    "x1": b"\x00\x01binary",
    "a1": [1, "two", True],
    "a2": [],
    "m1": {"k": "v", "n": 1},
    "m2": {},
    "s4": "unicode \u00e9\u00e8",
    "i4": 42,
}


# -- (a) encode publish ------------------------------------------------------


def amqpio_encode_publish() -> object:
    return b"".join(
        encode_content(
            1,
            Basic.Publish(exchange="events", routing_key="orders.created").encode(),
            60,
            BasicProperties(
                content_type="application/json", delivery_mode=2, headers=HEADERS
            ).encode(),
            BODY,
            FRAME_MAX,
        )
    )


def pamqp_encode_publish() -> object:
    return b"".join(
        (
            pframe.marshal(
                pcommands.Basic.Publish(
                    exchange="events", routing_key="orders.created"
                ),
                1,
            ),
            pframe.marshal(
                pheader.ContentHeader(
                    0,
                    len(BODY),
                    pcommands.Basic.Properties(
                        content_type="application/json",
                        delivery_mode=2,
                        headers=HEADERS,
                    ),
                ),
                1,
            ),
            pframe.marshal(pbody.ContentBody(BODY), 1),
        )
    )


# -- (b) decode deliver ------------------------------------------------------

DELIVER_STREAM = b"".join(
    encode_content(
        1,
        Basic.Deliver(
            consumer_tag="ctag1.0123456789abcdef",
            delivery_tag=12345,
            redelivered=False,
            exchange="events",
            routing_key="orders.created",
        ).encode(),
        60,
        BasicProperties(
            content_type="application/json", delivery_mode=2, headers=HEADERS
        ).encode(),
        BODY,
        FRAME_MAX,
    )
)


def _open_core() -> Connection:
    """A sans-IO connection past its handshake with channel 1 open (set-up
    only: the server frames are encoded by pamqp)."""
    core = Connection(ConnectionConfig())
    core.initiate()

    def server(*frames: object) -> None:
        data = b"".join(pframe.marshal(f, 0) for f in frames)  # type: ignore[arg-type]
        core.receive_data(data, 0.0)
        core.data_to_send()

    server(pcommands.Connection.Start(mechanisms="PLAIN"))
    server(pcommands.Connection.Tune(2047, FRAME_MAX, 0))
    server(pcommands.Connection.OpenOk())
    core.open_channel(1)
    core.receive_data(pframe.marshal(pcommands.Channel.OpenOk(), 1), 0.0)
    core.data_to_send()
    return core


CORE = _open_core()  # a client keeps one core per connection


def amqpio_decode_deliver() -> object:
    (event,) = CORE.receive_data(DELIVER_STREAM, 0.0)
    assert isinstance(event, DeliveryReceived)
    return event.method, event.properties, event.body


READER = FrameReader(FRAME_MAX)


def amqpio_decode_deliver_frames() -> object:
    """The decoders alone (frame reader, method, properties), without the
    core's state machines: the figure earlier versions of this file reported."""
    READER.feed(DELIVER_STREAM)
    (_, _, method_payload), (_, _, header_payload), (_, _, body) = READER.read_frames()
    method = decode_method(method_payload)
    _, body_size, properties = decode_content_header(header_payload)
    assert body_size == len(body)
    return method, properties, body


def pamqp_decode_deliver() -> object:
    data = DELIVER_STREAM
    used, _, method = pframe.unmarshal(data)
    data = data[used:]
    used, _, header = pframe.unmarshal(data)
    data = data[used:]
    used, _, body = pframe.unmarshal(data)
    assert isinstance(header, pheader.ContentHeader)
    assert isinstance(body, pbody.ContentBody)
    assert header.body_size == len(body.value)
    return method, header.properties, body.value


# -- (c) field table ---------------------------------------------------------

PAMQP_TABLE = {k: v for k, v in TABLE.items()}
PAMQP_TABLE["x1"] = bytearray(b"\x00\x01binary")  # pamqp encodes bytearray as 'x'


def amqpio_table() -> object:
    return decode_table(encode_table(TABLE))[0]


def pamqp_table() -> object:
    return pdecode.field_table(pencode.field_table(PAMQP_TABLE))[1]


CASES: list[tuple[str, Callable[[], object], Callable[[], object]]] = [
    (
        "(a) encode publish + header + 64 B body",
        amqpio_encode_publish,
        pamqp_encode_publish,
    ),
    (
        "(b) decode deliver + header + 64 B body",
        amqpio_decode_deliver,
        pamqp_decode_deliver,
    ),
    (
        "(b2) decode deliver, decoders only (no core)",
        amqpio_decode_deliver_frames,
        pamqp_decode_deliver,
    ),
    ("(c) encode + decode 20-key table", amqpio_table, pamqp_table),
]


def calibrate(fn: Callable[[], object], seconds: float) -> int:
    """Loop count that takes about ``seconds``."""
    n = 1
    while True:
        start = time.perf_counter()
        for _ in range(n):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed > seconds / 5:
            return max(1, int(n * seconds / elapsed))
        n *= 2


def timed(fn: Callable[[], object], loops: int) -> float:
    start = time.perf_counter()
    for _ in range(loops):
        fn()
    return loops / (time.perf_counter() - start)


def rates(
    ours: Callable[[], object],
    theirs: Callable[[], object],
    seconds: float,
    repeat: int,
) -> tuple[float, float]:
    """Best ops/s of each side; runs alternate so both see the same machine state."""
    n_ours, n_theirs = calibrate(ours, seconds), calibrate(theirs, seconds)
    best_ours = best_theirs = 0.0
    for _ in range(repeat):
        best_ours = max(best_ours, timed(ours, n_ours))
        best_theirs = max(best_theirs, timed(theirs, n_theirs))
    return best_ours, best_theirs


def check_equivalence() -> None:
    """Both sides must compute the same thing, or the comparison means nothing."""
    ours = amqpio_encode_publish()
    assert ours == pamqp_encode_publish()  # the same bytes on the wire
    assert pframe.unmarshal(ours)[2].exchange == "events"  # type: ignore[arg-type,union-attr]
    method, properties, body = amqpio_decode_deliver()  # type: ignore[misc]
    p_method, p_properties, p_body = pamqp_decode_deliver()  # type: ignore[misc]
    assert method.delivery_tag == p_method.delivery_tag
    assert properties.headers == p_properties.headers
    assert body == p_body
    assert amqpio_table().keys() == pamqp_table().keys()  # type: ignore[attr-defined]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.2)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    check_equivalence()
    import pamqp

    print(
        f"Python {platform.python_version()} on {platform.machine()}, "
        f"pamqp {pamqp.__version__}"
    )
    print()
    print("| case | amqpio ops/s | pamqp ops/s | ratio |")
    print("|---|---:|---:|---:|")
    for name, ours, theirs in CASES:
        a, b = rates(ours, theirs, args.seconds, args.repeat)
        print(f"| {name} | {a:,.0f} | {b:,.0f} | {a / b:.2f}x |")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
