"""Protocol round-trips and the incremental parser, including property tests on garbage."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices import protocol as p


def test_known_gen_img_bytes() -> None:
    # From the AS608 manual: GenImg to the default address.
    assert p.gen_img() == bytes.fromhex("EF01FFFFFFFF010003010005")


def test_known_vfy_pwd_bytes() -> None:
    assert p.vfy_pwd(0) == bytes.fromhex("EF01FFFFFFFF0100071300000000001B")
    frame = p.parse_frame(p.vfy_pwd(0x01020304, address=0x12345678))
    assert frame.address == 0x12345678
    assert frame.pid == p.PacketId.COMMAND
    assert frame.payload == bytes([0x13, 1, 2, 3, 4])
    # Sum: pid 1 + length 0x0007 + 0x13 + 1 + 2 + 3 + 4 = 0x25.
    assert p.vfy_pwd(0x01020304)[-2:] == b"\x00\x25"


def test_checksum_wraps_at_16_bits() -> None:
    payload = bytes([0xFF]) * 256
    raw = p.build_frame(0, p.PacketId.DATA, payload)
    assert int.from_bytes(raw[-2:], "big") == (2 + 0x01 + 0x02 + 0xFF * 256) & 0xFFFF
    assert p.parse_frame(raw).payload == payload


@pytest.mark.parametrize(
    "raw",
    [
        p.gen_img(),
        p.img2tz(1),
        p.img2tz(2, address=0xDEADBEEF),
        p.search(1, 0, 300),
        p.reg_model(),
        p.store(1, 299),
        p.load_char(2, 7),
        p.delete_char(3, 2),
        p.empty(),
        p.read_sys_para(),
        p.template_num(),
        p.read_index_table(1),
        p.vfy_pwd(0xFFFFFFFF),
        p.match(),
        p.set_pwd(5),
        p.set_adder(1),
        p.get_random_code(),
    ],
)
def test_command_round_trip(raw: bytes) -> None:
    frame = p.parse_frame(raw)
    assert frame.encode() == raw
    assert frame.pid == p.PacketId.COMMAND
    assert frame.code in set(p.Instruction)


def test_search_reply_round_trip() -> None:
    raw = p.ack(
        p.DEFAULT_ADDRESS, p.Confirmation.OK, (17).to_bytes(2, "big") + (88).to_bytes(2, "big")
    )
    result = p.parse_search(p.parse_frame(raw))
    assert result.found and result.page == 17 and result.score == 88
    miss = p.parse_search(p.parse_frame(p.ack(1, p.Confirmation.NOT_FOUND, bytes(4))))
    assert not miss.found


def test_sys_para_and_index_round_trip() -> None:
    params = p.SystemParameters(0, 0, 300, 3, 0xFFFFFFFF, 2, 6)
    got = p.parse_sys_para(p.parse_frame(p.ack(1, 0, params.encode())))
    assert got == params and got.packet_size == 128 and got.baud == 57600
    used = {0, 7, 8, 255, 256, 299}
    first = p.parse_index_table(p.parse_frame(p.ack(1, 0, p.index_table_bytes(used, 0))), 0)
    second = p.parse_index_table(p.parse_frame(p.ack(1, 0, p.index_table_bytes(used, 1))), 1)
    assert first | second == used
    assert p.parse_template_num(p.parse_frame(p.ack(1, 0, (6).to_bytes(2, "big")))) == 6


def test_module_error_and_confirmation_meanings() -> None:
    with pytest.raises(p.ModuleError) as info:
        p.parse_template_num(p.parse_frame(p.ack(1, p.Confirmation.PASSWORD_REQUIRED, bytes(2))))
    assert "必须验证口令" in str(info.value)
    for code in p.Confirmation:
        assert code.zh and code.en
    assert "未知" in p.Confirmation.describe(0xEE)


def test_bad_fields_are_refused() -> None:
    with pytest.raises(ValueError):
        p.img2tz(3)
    with pytest.raises(ValueError):
        p.build_frame(1 << 32, 1, b"")
    with pytest.raises(ValueError):
        p.build_frame(1, 1, bytes(257))
    with pytest.raises(p.ProtocolError):
        p.parse_frame(p.gen_img()[:-1])
    with pytest.raises(p.ProtocolError):
        p.parse_frame(p.gen_img()[:-1] + b"\x00")
    with pytest.raises(p.ProtocolError):
        p.parse_search(p.parse_frame(p.ack(1, 0, b"\x00")))


def test_noise_then_frame() -> None:
    parser = p.FrameParser()
    assert parser.feed(b"\x00\xef\x13\xef") == []
    events = parser.feed(p.gen_img())
    assert events == [p.parse_frame(p.gen_img())]
    assert parser.discarded == 4 and parser.pending == 0


def test_bad_checksum_is_reported_then_next_frame_found() -> None:
    bad = bytearray(p.template_num())
    bad[-1] ^= 0x55
    events = p.FrameParser().feed(bytes(bad) + p.gen_img())
    assert isinstance(events[0], p.CorruptFrame)
    assert events[1:] == [p.parse_frame(p.gen_img())]


def test_fake_long_header_does_not_swallow_real_reply() -> None:
    # Noise that looks like the header of a 200-byte packet, then a real 12-byte reply.
    fake = b"\xef\x01\xff\xff\xff\xff\x07\x00\xc8"
    reply = p.ack(p.DEFAULT_ADDRESS, 0)
    assert p.FrameParser().feed(fake + reply) == [p.parse_frame(reply)]


def test_split_byte_by_byte() -> None:
    parser = p.FrameParser()
    raw = p.search(1, 0, 300)
    events: list[p.ParseEvent] = []
    for i in range(len(raw)):
        events += parser.feed(raw[i : i + 1])
    assert events == [p.parse_frame(raw)]


frames_st = st.builds(
    lambda address, pid, payload: p.Frame(address, pid, payload),
    st.integers(0, 0xFFFFFFFF),
    st.sampled_from(list(p.PacketId)),
    st.binary(min_size=1, max_size=40),
)


@settings(max_examples=300, deadline=None)
@given(garbage=st.binary(max_size=200), splits=st.lists(st.integers(0, 400), max_size=12))
def test_parser_never_crashes_on_garbage(garbage: bytes, splits: list[int]) -> None:
    parser = p.FrameParser()
    cuts = sorted({0, len(garbage), *[s % (len(garbage) + 1) for s in splits]})
    for a, b in zip(cuts, cuts[1:], strict=False):
        for event in parser.feed(garbage[a:b]):
            if isinstance(event, p.Frame):
                # Anything reported as a frame really is one, byte for byte.
                assert event.encode() in garbage
    assert parser.pending <= len(garbage)


@settings(max_examples=300, deadline=None)
@given(
    frames=st.lists(frames_st, min_size=1, max_size=6),
    noise=st.lists(
        st.binary(max_size=30).filter(lambda b: b"\xef" not in b), min_size=7, max_size=7
    ),
    data=st.data(),
)
def test_frames_survive_noise_and_random_splits(
    frames: list[p.Frame], noise: list[bytes], data: st.DataObject
) -> None:
    # Noise without EF cannot fake a start code, so every frame must come out, in order.
    stream = b"".join(noise[i] + f.encode() for i, f in enumerate(frames)) + noise[-1]
    cuts = sorted(set(data.draw(st.lists(st.integers(0, len(stream)), max_size=20))))
    parser = p.FrameParser()
    got: list[p.ParseEvent] = []
    previous = 0
    for cut in [*cuts, len(stream)]:
        got += parser.feed(stream[previous:cut])
        previous = cut
    assert got == frames


@settings(max_examples=200, deadline=None)
@given(frame=frames_st, noise=st.binary(max_size=60), data=st.data())
def test_frame_after_arbitrary_noise_is_found(
    frame: p.Frame, noise: bytes, data: st.DataObject
) -> None:
    # Even noise containing EF 01 and fake headers must not hide a frame that follows it.
    stream = noise + frame.encode()
    cut = data.draw(st.integers(0, len(stream)))
    parser = p.FrameParser()
    events = parser.feed(stream[:cut]) + parser.feed(stream[cut:])
    frames = [e for e in events if isinstance(e, p.Frame)]
    assert frames and frames[-1] == frame


def test_a_repeated_reply_is_the_same_frame_and_a_broken_one_is_not() -> None:
    # An idle reader's answer is the same 12 bytes ten times a second: parsed once, then
    # known. Anything else (a split, noise, another reply) is parsed as ever.
    no_finger = p.ack(p.DEFAULT_ADDRESS, p.Confirmation.NO_FINGER)
    parser = p.FrameParser()
    first = parser.feed(no_finger)
    assert parser.feed(no_finger) == first == [p.parse_frame(no_finger)]
    assert parser.feed(no_finger[:5]) == [] and parser.pending == 5
    assert parser.feed(no_finger[5:]) == first  # the same bytes in two pieces
    assert parser.feed(b"\x00" + no_finger) == first and parser.discarded == 1
    ok = p.ack(p.DEFAULT_ADDRESS, p.Confirmation.OK)
    assert parser.feed(ok) == [p.parse_frame(ok)]
    assert parser.feed(no_finger + ok) == [*first, p.parse_frame(ok)]
    bad = bytearray(no_finger)
    bad[-1] ^= 1
    assert isinstance(parser.feed(bytes(bad))[0], p.CorruptFrame)
    assert parser.feed(no_finger) == first


chunks_st = st.lists(
    st.one_of(
        st.sampled_from(
            [
                p.ack(p.DEFAULT_ADDRESS, p.Confirmation.NO_FINGER),
                p.ack(p.DEFAULT_ADDRESS, p.Confirmation.OK),
                p.ack(1, p.Confirmation.NO_FINGER),
            ]
        ),
        st.binary(max_size=14),
    ),
    max_size=20,
)


@settings(max_examples=300, deadline=None)
@given(chunks=chunks_st)
def test_remembering_the_last_reply_changes_nothing(chunks: list[bytes]) -> None:
    # The same chunks to a parser that remembers and to one made to forget every time:
    # the same frames, the same bytes dropped and held.
    remembering, forgetting = p.FrameParser(), p.FrameParser()
    for chunk in chunks:
        forgetting._last = None
        assert remembering.feed(chunk) == forgetting.feed(chunk)
        assert (remembering.discarded, remembering.pending) == (
            forgetting.discarded,
            forgetting.pending,
        )
