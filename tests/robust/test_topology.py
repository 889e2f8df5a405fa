"""Recorded topology as plain data: recording, forgetting and the replay order."""

from __future__ import annotations

from amqpio._topology import (
    ConsumerRecord,
    ExchangeBindingRecord,
    ExchangeRecord,
    Kind,
    QosRecord,
    QueueBindingRecord,
    QueueRecord,
    Topology,
    freeze,
    replay_plan,
)


def callback(_: object) -> None:
    pass


def full_topology() -> Topology:
    t = Topology()
    t.record_queue("q", durable=True)  # a queue before the exchange it binds to
    t.record_exchange("x", "topic")
    t.record_queue_binding("q", "x", "a.#")
    t.record_consumer("tag-1", "q", callback, arguments={"x-priority": 1})
    t.record_exchange("y", "fanout")
    t.record_exchange_binding("y", "x", "r")
    t.record_qos(10, 0, False)
    return t


def test_replay_order_is_by_kind_then_declaration() -> None:
    t = full_topology()
    plan = [type(step.record) for step in replay_plan([("ch", t)])]
    assert plan == [
        QosRecord,
        ExchangeRecord,
        ExchangeRecord,
        QueueRecord,
        ExchangeBindingRecord,
        QueueBindingRecord,
        ConsumerRecord,
    ]
    names = [
        step.record.name
        for step in replay_plan([("ch", t)])
        if isinstance(step.record, ExchangeRecord)
    ]
    assert names == ["x", "y"]  # declaration order within a kind


def test_replay_order_holds_across_channels() -> None:
    # channel B binds its queue to an exchange that channel A declares later
    a, b = Topology(), Topology()
    b.record_queue("q")
    a.record_exchange("x", "direct")
    b.record_queue_binding("q", "x", "k")
    b.record_consumer("c", "q", callback)
    a.record_queue("qa")
    plan = [(step.owner, step.record) for step in replay_plan([("A", a), ("B", b)])]
    assert [(o, r.kind) for o, r in plan] == [
        ("A", Kind.EXCHANGE),
        ("B", Kind.QUEUE),
        ("A", Kind.QUEUE),
        ("B", Kind.QUEUE_BINDING),
        ("B", Kind.CONSUMER),
    ]


def test_redeclaration_updates_and_keeps_its_place() -> None:
    t = Topology()
    t.record_exchange("x", "direct")
    t.record_exchange("y", "direct")
    t.record_exchange("x", "direct", durable=True)
    records = [s.record for s in replay_plan([(0, t)])]
    assert [(r.name, r.durable) for r in records] == [("x", True), ("y", False)]  # type: ignore[union-attr]


def test_passive_declaration_never_replaces_an_active_one() -> None:
    t = Topology()
    t.record_queue("q", durable=True)
    t.record_queue("q", passive=True)
    assert t.queues["q"].passive is False
    assert t.queues["q"].durable is True
    t.record_exchange("x", "topic")
    t.record_exchange("x", "direct", passive=True)
    assert t.exchanges["x"].type == "topic"
    # but a passive record is upgraded by an active declaration
    t.record_queue("p", passive=True)
    t.record_queue("p", exclusive=True)
    assert t.queues["p"].passive is False
    assert t.queues["p"].exclusive is True


def test_default_exchange_is_not_recorded() -> None:
    t = Topology()
    t.record_exchange("", "direct")
    assert t.exchanges == {}


def test_bindings_and_consumers_need_a_recorded_owner() -> None:
    t = Topology()
    assert not t.record_queue_binding("q", "x", "k")
    assert not t.record_consumer("c", "q", callback)
    assert not t.record_exchange_binding("y", "x", "k")
    assert len(t) == 0
    t.record_queue("q")
    t.record_exchange("y", "direct")
    assert t.record_queue_binding("q", "x", "k")
    assert t.record_consumer("c", "q", callback)
    assert t.record_exchange_binding("y", "x", "k")
    assert len(t) == 5


def test_forgetting_a_queue_forgets_its_bindings_and_consumers() -> None:
    t = full_topology()
    t.forget_queue("q")
    assert "q" not in t.queues
    assert t.queue_bindings == {}
    assert t.consumers == {}
    assert set(t.exchanges) == {"x", "y"}
    assert len(t.exchange_bindings) == 1


def test_forgetting_an_exchange_forgets_bindings_from_and_to_it() -> None:
    t = full_topology()
    t.forget_exchange("x")
    assert set(t.exchanges) == {"y"}
    assert t.exchange_bindings == {}  # y was bound to x
    assert t.queue_bindings == {}  # q was bound to x
    assert set(t.consumers) == {"tag-1"}


def test_bindings_are_identified_by_their_arguments() -> None:
    t = Topology()
    t.record_queue("q")
    t.record_queue_binding("q", "h", "", {"x-match": "all", "a": 1})
    t.record_queue_binding("q", "h", "", {"x-match": "any", "a": 1})
    t.record_queue_binding("q", "h", "", {"a": 1, "x-match": "all"})  # same as 1st
    assert len(t.queue_bindings) == 2
    t.forget_queue_binding("q", "h", "", {"x-match": "any", "a": 1})
    assert [b.arguments["x-match"] for b in t.queue_bindings_of("q")] == ["all"]
    t.forget_queue_binding("q", "h", "")  # no such binding: nothing happens
    assert len(t.queue_bindings) == 1


def test_consumers_keep_tag_callback_and_arguments() -> None:
    t = Topology()
    t.record_queue("q")
    t.record_consumer("ctag", "q", callback, no_ack=True, exclusive=True)
    record = t.consumers["ctag"]
    assert (record.tag, record.queue, record.callback) == ("ctag", "q", callback)
    assert (record.no_ack, record.exclusive, dict(record.arguments)) == (
        True,
        True,
        {},
    )
    assert t.forget_consumer("ctag") is record
    assert t.forget_consumer("ctag") is None


def test_records_copy_their_arguments() -> None:
    arguments = {"x-max-length": 10}
    t = Topology()
    t.record_queue("q", arguments=arguments)
    arguments["x-max-length"] = 20
    assert t.queues["q"].arguments == {"x-max-length": 10}


def test_freeze_makes_tables_and_arrays_hashable() -> None:
    frozen = freeze({"b": [1, {"c": b"x"}], "a": bytearray(b"y")})
    hash(frozen)
    assert frozen == freeze({"a": b"y", "b": [1, {"c": b"x"}]})
    assert freeze([1, 2]) != freeze((1, 2, 3))
