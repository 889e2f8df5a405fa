"""Random conversations against a model (hypothesis RuleBasedStateMachine).

Invariants: channel numbers are never allocated twice; synchronous replies
are matched in FIFO order with at most one request per channel on the wire;
every publish made in confirm mode gets exactly one outcome (acked, nacked,
or listed as unconfirmed when its channel closes), never two.
"""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
)

from amqpio import spec
from amqpio.sansio import (
    ChannelClosed,
    ChannelOpened,
    ConnectionConfig,
    PublishAcked,
    PublishNacked,
    ReplyReceived,
)
from helpers.broker import Pair, Published

B = spec.Basic
CHANNEL_MAX = 6


class ChannelModel:
    def __init__(self, generation: int) -> None:
        self.generation = generation  # a reused number is a new channel
        self.state = "opening"
        self.requests: list[int] = []  # FIFO of expected replies
        self.confirm = False
        self.next_tag = 1
        self.outstanding: set[int] = set()
        self.on_wire = 0  # synchronous requests sent and not yet answered


class ConversationMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.pair = Pair(ConnectionConfig(channel_max=CHANNEL_MAX))
        self.pair.handshake()
        self.channels: dict[int, ChannelModel] = {}
        self.outcomes: dict[tuple[int, int], str] = {}
        self.issued: set[tuple[int, int]] = set()
        self.generations = 0

    # -- helpers -------------------------------------------------------------

    def flush(self) -> None:
        for item in self.pair.sent():
            if isinstance(item, tuple) and isinstance(item[1], B.Qos):
                model = self.channels[item[0]]
                model.on_wire += 1
                assert model.on_wire == 1, "two requests on the wire"
            elif isinstance(item, Published):
                assert self.channels[item.channel].state in ("open", "closing")

    def pick(self, data: st.DataObject, state: str) -> int:
        numbers = sorted(n for n, c in self.channels.items() if c.state == state)
        return data.draw(st.sampled_from(numbers))

    def has(self, state: str) -> bool:
        return any(c.state == state for c in self.channels.values())

    def record(self, model: ChannelModel, tag: int, outcome: str) -> None:
        key = (model.generation, tag)
        assert key in self.issued
        assert key not in self.outcomes, f"second outcome for {key}"
        self.outcomes[key] = outcome

    def closed(self, channel: int, event: ChannelClosed) -> None:
        model = self.channels.pop(channel)
        assert list(event.pending_requests) == model.requests
        assert set(event.unconfirmed) == model.outstanding
        for tag in event.unconfirmed:
            self.record(model, tag, "lost")

    # -- rules ---------------------------------------------------------------

    @precondition(lambda self: len(self.channels) < CHANNEL_MAX)
    @rule()
    def open_channel(self) -> None:
        number = self.pair.conn.open_channel()
        assert number not in self.channels, "channel number allocated twice"
        assert 1 <= number <= CHANNEL_MAX
        self.generations += 1
        self.channels[number] = ChannelModel(self.generations)
        self.flush()

    @precondition(lambda self: self.has("opening"))
    @rule(data=st.data())
    def broker_opens(self, data: st.DataObject) -> None:
        ch = self.pick(data, "opening")
        assert self.pair.recv(self.pair.broker.method(ch, spec.Channel.OpenOk())) == [
            ChannelOpened(ch)
        ]
        self.channels[ch].state = "open"

    @precondition(lambda self: self.has("open"))
    @rule(data=st.data())
    def client_closes(self, data: st.DataObject) -> None:
        ch = self.pick(data, "open")
        self.pair.conn.close_channel(ch)
        self.channels[ch].state = "closing"
        self.flush()

    @precondition(lambda self: self.has("closing"))
    @rule(data=st.data())
    def broker_close_ok(self, data: st.DataObject) -> None:
        ch = self.pick(data, "closing")
        [event] = self.pair.recv(self.pair.broker.method(ch, spec.Channel.CloseOk()))
        assert isinstance(event, ChannelClosed) and not event.by_broker
        self.closed(ch, event)

    @precondition(lambda self: self.has("open"))
    @rule(data=st.data())
    def broker_closes(self, data: st.DataObject) -> None:
        ch = self.pick(data, "open")
        close = spec.Channel.Close(406, "PRECONDITION_FAILED", 60, 40)
        [event] = self.pair.recv(self.pair.broker.method(ch, close))
        assert isinstance(event, ChannelClosed) and event.by_broker
        self.closed(ch, event)
        assert self.pair.methods() == [(ch, spec.Channel.CloseOk())]

    @precondition(lambda self: self.has("open"))
    @rule(data=st.data(), count=st.integers(0, 100))
    def request(self, data: st.DataObject, count: int) -> None:
        ch = self.pick(data, "open")
        rid = self.pair.conn.send_method(ch, B.Qos(prefetch_count=count))
        assert rid is not None
        self.channels[ch].requests.append(rid)
        self.flush()

    @precondition(lambda self: any(c.on_wire for c in self.channels.values()))
    @rule(data=st.data())
    def broker_replies(self, data: st.DataObject) -> None:
        ch = data.draw(
            st.sampled_from(sorted(n for n, c in self.channels.items() if c.on_wire))
        )
        model = self.channels[ch]
        events = self.pair.recv(self.pair.broker.method(ch, B.QosOk()))
        if model.state == "closing":
            assert events == []  # discarded; the request stays pending
        else:
            [event] = events
            assert isinstance(event, ReplyReceived)
            assert event.request_id == model.requests.pop(0), "not FIFO"
        model.on_wire -= 1
        if model.state == "closing":
            model.on_wire = 0
        self.flush()

    @precondition(lambda self: self.has("open"))
    @rule(data=st.data())
    def select_confirms(self, data: st.DataObject) -> None:
        ch = self.pick(data, "open")
        model = self.channels[ch]
        if not model.confirm:
            assert (
                self.pair.conn.send_method(ch, spec.Confirm.Select(no_wait=True))
                is None
            )
            model.confirm = True
            self.flush()

    @precondition(lambda self: self.has("open"))
    @rule(data=st.data(), body=st.binary(max_size=20))
    def publish(self, data: st.DataObject, body: bytes) -> None:
        ch = self.pick(data, "open")
        model = self.channels[ch]
        tag = self.pair.conn.publish(ch, "", "q", body)
        if model.confirm:
            assert tag == model.next_tag
            model.next_tag += 1
            model.outstanding.add(tag)
            self.issued.add((model.generation, tag))
        else:
            assert tag is None
        self.flush()

    @precondition(
        lambda self: any(
            c.outstanding and c.state == "open" for c in self.channels.values()
        )
    )
    @rule(data=st.data(), multiple=st.booleans(), ack=st.booleans())
    def broker_confirms(self, data: st.DataObject, multiple: bool, ack: bool) -> None:
        ch = data.draw(
            st.sampled_from(
                sorted(
                    n
                    for n, c in self.channels.items()
                    if c.outstanding and c.state == "open"
                )
            )
        )
        model = self.channels[ch]
        tag = data.draw(st.sampled_from(sorted(model.outstanding)))
        method = (B.Ack if ack else B.Nack)(tag, multiple)
        expected = (
            sorted(t for t in model.outstanding if t <= tag) if multiple else [tag]
        )
        events = self.pair.recv(self.pair.broker.method(ch, method))
        kind = PublishAcked if ack else PublishNacked
        assert events == [kind(ch, t) for t in expected]
        for t in expected:
            model.outstanding.discard(t)
            self.record(model, t, "acked" if ack else "nacked")

    # -- invariants ----------------------------------------------------------

    @invariant()
    def allocation_matches(self) -> None:
        assert set(self.pair.conn.channel_ids) == set(self.channels)

    @invariant()
    def no_lost_outcome(self) -> None:
        open_tags = {
            (c.generation, t) for c in self.channels.values() for t in c.outstanding
        }
        assert open_tags.isdisjoint(self.outcomes)
        assert open_tags | set(self.outcomes) == self.issued


ConversationMachine.TestCase.settings = settings(
    max_examples=300, stateful_step_count=40, deadline=None
)
TestConversation = ConversationMachine.TestCase
