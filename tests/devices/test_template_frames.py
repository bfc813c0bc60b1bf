"""The frames of template sharing (UpChar, DownChar, LoadChar, Store, DeleteChar) and the
multi-packet data transfer, as tables; the emulated module's answers to them, bad checksums
and empty pages included."""

from __future__ import annotations

import pytest

from devices import protocol as p
from devices.emulator import Module, finger_of_template, template_bytes
from devices.protocol import Confirmation as C


@pytest.mark.parametrize(
    ("raw", "hex_bytes"),
    [
        # EF01 | address | 01 command | length | instruction + args | sum
        (p.up_char(1), "EF01 FFFFFFFF 01 0004 08 01 000E"),
        (p.up_char(2), "EF01 FFFFFFFF 01 0004 08 02 000F"),
        (p.down_char(1), "EF01 FFFFFFFF 01 0004 09 01 000F"),
        (p.load_char(1, 5), "EF01 FFFFFFFF 01 0006 07 01 0005 0014"),
        (p.store(1, 5), "EF01 FFFFFFFF 01 0006 06 01 0005 0013"),
        (p.store(2, 299), "EF01 FFFFFFFF 01 0006 06 02 012B 003B"),
        (p.delete_char(5, 1), "EF01 FFFFFFFF 01 0007 0C 0005 0001 001A"),
        (p.up_char(1, address=0x12345678), "EF01 12345678 01 0004 08 01 000E"),
    ],
)
def test_command_bytes(raw: bytes, hex_bytes: str) -> None:
    assert raw == bytes.fromhex(hex_bytes)
    assert p.parse_frame(raw).encode() == raw


@pytest.mark.parametrize("call", [p.up_char, p.down_char])
@pytest.mark.parametrize("buffer_id", [0, 3, 255])
def test_char_buffer_must_be_one_or_two(call: object, buffer_id: int) -> None:
    with pytest.raises(ValueError, match="CharBuffer"):
        call(buffer_id)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("size", "packet_size", "pids"),
    [
        (512, 128, [0x02, 0x02, 0x02, 0x08]),
        (512, 256, [0x02, 0x08]),
        (512, 32, [0x02] * 15 + [0x08]),
        (100, 128, [0x08]),
        (129, 128, [0x02, 0x08]),
    ],
)
def test_data_packets_split_and_end(size: int, packet_size: int, pids: list[int]) -> None:
    data = bytes(range(256)) * 2
    data = data[:size]
    raw = p.data_packets(p.DEFAULT_ADDRESS, data, packet_size)
    frames = p.FrameParser().feed(raw)
    assert [f.pid for f in frames if isinstance(f, p.Frame)] == pids
    assert all(len(f.payload) <= packet_size for f in frames if isinstance(f, p.Frame))
    assert p.parse_data(raw, p.DEFAULT_ADDRESS, packet_size) == data


def test_known_data_packet_bytes() -> None:
    # One end packet: EF01 | address | 08 | length 0005 | 01 02 03 | sum 08+00+05+01+02+03.
    assert p.data_packets(0xFFFFFFFF, b"\x01\x02\x03", 32) == bytes.fromhex(
        "EF01FFFFFFFF08000501020300" + "13"
    )


@pytest.mark.parametrize(
    ("packet_size", "data", "message"),
    [(100, b"x", "packet size"), (128, b"", "at least one byte")],
)
def test_data_packets_refuse_bad_arguments(packet_size: int, data: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        p.data_packets(p.DEFAULT_ADDRESS, data, packet_size)


def _flip_sum(raw: bytes, packet_no: int, packet_len: int) -> bytes:
    """``raw`` with the last checksum byte of packet ``packet_no`` (0-based) flipped."""
    end = (packet_no + 1) * packet_len - 1
    return raw[:end] + bytes([raw[end] ^ 0x5A]) + raw[end + 1 :]


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda raw: _flip_sum(raw, 0, 139), "bad checksum"),
        (lambda raw: _flip_sum(raw, 3, 139), "bad checksum"),
        (lambda raw: raw[:-139], "not exactly one complete"),  # the end packet lost
        (lambda raw: raw + p.data_packets(p.DEFAULT_ADDRESS, b"x", 128), "after the end"),
        (lambda raw: p.data_packets(1, bytes(512), 128), "from address 00000001"),
        (lambda raw: p.ack(p.DEFAULT_ADDRESS, 0) + raw, "expected a data packet"),
        (lambda raw: p.data_packets(p.DEFAULT_ADDRESS, bytes(512), 256), "packet size 128"),
    ],
)
def test_broken_transfers_are_refused(mangle: object, message: str) -> None:
    raw = p.data_packets(p.DEFAULT_ADDRESS, bytes(range(256)) * 2, 128)
    with pytest.raises(p.ProtocolError, match=message):
        p.parse_data(mangle(raw), p.DEFAULT_ADDRESS, 128)  # type: ignore[operator]


def test_assembler_limit() -> None:
    assembler = p.DataAssembler(p.DEFAULT_ADDRESS, 128, limit=256)
    for _ in range(2):
        assembler.add(p.parse_frame(p.build_frame(p.DEFAULT_ADDRESS, p.PacketId.DATA, bytes(128))))
    with pytest.raises(p.ProtocolError, match="longer than 256"):
        assembler.add(p.parse_frame(p.build_frame(p.DEFAULT_ADDRESS, p.PacketId.DATA, b"x")))


def test_emulated_template_files_round_trip() -> None:
    for finger in ("finger:0", "finger:unknown", "finger:" + "x" * 400):
        data = template_bytes(finger)
        assert len(data) == p.TEMPLATE_SIZE
        assert finger_of_template(data) == finger
    foreign = bytes(range(256)) * 2
    assert template_bytes(finger_of_template(foreign)) == foreign
    assert template_bytes("finger:1") != template_bytes("finger:2")


# --- the module's answers, frame by frame (no line) ----------------------------------------


def _frames(raw: bytes | None) -> list[p.Frame]:
    assert raw is not None
    events = p.FrameParser().feed(raw)
    assert all(isinstance(e, p.Frame) for e in events)
    return events  # type: ignore[return-value]


def _send(module: Module, raw: bytes) -> list[p.Frame]:
    replies: list[p.Frame] = []
    for event in p.FrameParser().feed(raw):
        reply = module.corrupt() if isinstance(event, p.CorruptFrame) else module.handle(event)
        if reply is not None:
            replies.extend(_frames(reply))
    return replies


@pytest.mark.parametrize(
    ("command", "code"),
    [
        (p.load_char(1, 2), C.OK),
        (p.load_char(1, 7), C.READ_TEMPLATE_FAILED),  # empty page
        (p.load_char(1, 300), C.BAD_LOCATION),
        (p.up_char(1), C.UPLOAD_CHAR_FAILED),  # nothing in the buffer
        (p.store(1, 10), C.FLASH_ERROR),  # nothing in the buffer
        (p.store(1, 300), C.BAD_LOCATION),
        (p.delete_char(2, 1), C.OK),
        (p.delete_char(7, 1), C.OK),  # an empty page: deleting it again is not an error
        (p.delete_char(299, 2), C.BAD_LOCATION),
        (p.down_char(1), C.OK),
    ],
)
def test_module_answers(command: bytes, code: int) -> None:
    module = Module(templates={0: "finger:0", 2: "finger:2"})
    replies = _send(module, command)
    assert [(f.pid, f.code) for f in replies] == [(p.PacketId.ACK, code)]


def test_module_upchar_sends_ack_then_data_packets() -> None:
    module = Module(templates={2: "finger:2"})
    assert _send(module, p.load_char(1, 2))[0].code == C.OK
    replies = _send(module, p.up_char(1))
    assert [f.pid for f in replies] == [0x07, 0x02, 0x02, 0x02, 0x08]
    assert replies[0].payload == b"\x00"
    assert b"".join(f.payload for f in replies[1:]) == template_bytes("finger:2")


def test_module_downchar_then_store() -> None:
    module = Module()
    data = template_bytes("finger:9")
    assert _send(module, p.down_char(2)) and not _send(
        module, p.data_packets(module.address, data, module.packet_size)
    )
    assert module.char_buffers[2] == "finger:9"
    assert _send(module, p.store(2, 4))[0].code == C.OK
    assert module.templates == {4: "finger:9"}


@pytest.mark.parametrize(
    "mangle",
    [
        lambda raw: _flip_sum(raw, 1, 139),  # a wrong checksum in the middle
        lambda raw: _flip_sum(raw, 3, 139),  # on the end packet
        lambda raw: raw[:-139] + p.data_packets(p.DEFAULT_ADDRESS, bytes(128) * 2, 128),
        lambda raw: raw[:139] + p.gen_img(),  # a command cuts the transfer short
    ],
)
def test_module_refuses_a_broken_downchar(mangle: object) -> None:
    module = Module(templates={0: "finger:0"})
    assert _send(module, p.load_char(1, 0))[0].code == C.OK  # the buffer held something
    assert _send(module, p.down_char(1))[0].code == C.OK
    raw = p.data_packets(module.address, template_bytes("finger:9"), module.packet_size)
    _send(module, mangle(raw))  # type: ignore[operator]
    assert module.char_buffers[1] is None and module.transfers_refused == 1
    assert _send(module, p.store(1, 5))[0].code == C.FLASH_ERROR
    assert module.templates == {0: "finger:0"}


def test_module_ignores_data_nobody_announced() -> None:
    module = Module()
    assert _send(module, p.data_packets(module.address, bytes(512), 128)) == []
    assert module.char_buffers == {1: None, 2: None}


def test_bad_checksum_command_is_refused_by_the_module() -> None:
    module = Module(templates={3: "finger:3"})
    raw = p.delete_char(3, 1)
    replies = _send(module, raw[:-1] + bytes([raw[-1] ^ 1]))
    assert [(f.pid, f.code) for f in replies] == [(p.PacketId.ACK, C.PACKET_ERROR)]
    assert module.templates == {3: "finger:3"}
