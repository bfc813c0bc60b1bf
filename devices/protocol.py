"""The ZhianTec/Synochip "EF01" serial protocol of ZFM-20, R30x and AS608 modules, as pure code.

Bytes go in, frames come out; nothing here does I/O, sleeps or reads a clock, so the same
code serves the transport (host side), the emulator (module side) and the tests.

A packet on the wire is::

    EF 01 | address (4, big endian) | packet id (1) | length (2) | payload (length - 2) | sum (2)

where ``length`` counts the payload plus the two checksum bytes, and ``sum`` is the low 16
bits of the byte sum of packet id, both length bytes and the payload.
"""

from __future__ import annotations

import enum
import functools
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

START = b"\xef\x01"
DEFAULT_ADDRESS = 0xFFFFFFFF
DEFAULT_PASSWORD = 0
DEFAULT_BAUD = 57600
HEADER_LEN = 9  # start (2) + address (4) + packet id (1) + length (2)
CHECKSUM_LEN = 2
# The largest data packet the modules send is 256 payload bytes; anything longer is noise
# that happens to start with EF 01, and waiting for it would stall the line.
MAX_PAYLOAD = 256
MAX_LENGTH_FIELD = MAX_PAYLOAD + CHECKSUM_LEN
INDEX_PAGE_BITS = 256  # ReadIndexTable answers 32 bytes = 256 template slots per index page


class PacketId(enum.IntEnum):
    """Packet identifier (包标识)."""

    COMMAND = 0x01
    DATA = 0x02
    ACK = 0x07
    END_DATA = 0x08


class Instruction(enum.IntEnum):
    """Instruction codes (指令码) of command packets."""

    GEN_IMG = 0x01  # GenImg: capture a finger image into the image buffer
    IMG2TZ = 0x02  # Img2Tz: image buffer -> characteristics in CharBuffer 1 or 2
    MATCH = 0x03  # Match: compare CharBuffer 1 with CharBuffer 2
    SEARCH = 0x04  # Search: look a CharBuffer up in the template library
    REG_MODEL = 0x05  # RegModel: merge CharBuffer 1 and 2 into a template
    STORE = 0x06  # Store: CharBuffer -> flash page
    LOAD_CHAR = 0x07  # LoadChar: flash page -> CharBuffer
    UP_CHAR = 0x08  # UpChar: CharBuffer -> host
    DOWN_CHAR = 0x09  # DownChar: host -> CharBuffer
    UP_IMAGE = 0x0A  # UpImage: image buffer -> host
    DOWN_IMAGE = 0x0B  # DownImage: host -> image buffer
    DELETE_CHAR = 0x0C  # DeleteChar: delete N templates from a page
    EMPTY = 0x0D  # Empty: delete every template
    SET_SYS_PARA = 0x0E  # SetSysPara: write one system register
    READ_SYS_PARA = 0x0F  # ReadSysPara: read the 16-byte system parameter block
    SET_PWD = 0x12  # SetPwd: change the handshake password
    VFY_PWD = 0x13  # VfyPwd: verify the handshake password
    GET_RANDOM_CODE = 0x14  # GetRandomCode
    SET_ADDER = 0x15  # SetAdder: change the module address
    TEMPLATE_NUM = 0x1D  # TemplateNum: number of stored templates
    READ_INDEX_TABLE = 0x1F  # ReadIndexTable: bitmap of used pages


class Confirmation(enum.IntEnum):
    """Confirmation codes (确认码) of acknowledge packets, with their Chinese and English meaning."""

    OK = 0x00
    PACKET_ERROR = 0x01
    NO_FINGER = 0x02
    ENROLL_FAILED = 0x03
    IMAGE_TOO_DRY = 0x04
    IMAGE_TOO_WET = 0x05
    IMAGE_TOO_MESSY = 0x06
    TOO_FEW_FEATURES = 0x07
    NO_MATCH = 0x08
    NOT_FOUND = 0x09
    MERGE_FAILED = 0x0A
    BAD_LOCATION = 0x0B
    READ_TEMPLATE_FAILED = 0x0C
    UPLOAD_CHAR_FAILED = 0x0D
    CANNOT_RECEIVE_DATA = 0x0E
    UPLOAD_IMAGE_FAILED = 0x0F
    DELETE_FAILED = 0x10
    EMPTY_FAILED = 0x11
    LOW_POWER_FAILED = 0x12
    WRONG_PASSWORD = 0x13
    RESET_FAILED = 0x14
    NO_VALID_IMAGE = 0x15
    UPGRADE_FAILED = 0x16
    FINGER_NOT_MOVED = 0x17
    FLASH_ERROR = 0x18
    UNDEFINED_ERROR = 0x19
    INVALID_REGISTER = 0x1A
    BAD_REGISTER_VALUE = 0x1B
    BAD_NOTEPAD_PAGE = 0x1C
    PORT_ERROR = 0x1D
    AUTO_ENROLL_FAILED = 0x1E
    LIBRARY_FULL = 0x1F
    WRONG_ADDRESS = 0x20
    PASSWORD_REQUIRED = 0x21

    @property
    def zh(self) -> str:
        """Meaning in Chinese, as in the module manuals."""
        return _MEANINGS[self][0]

    @property
    def en(self) -> str:
        """Meaning in English."""
        return _MEANINGS[self][1]

    @classmethod
    def describe(cls, code: int) -> str:
        """A human-readable ``0xNN 中文 (English)`` text for any code, known or not."""
        try:
            known = cls(code)
        except ValueError:
            return f"0x{code:02X} 未知确认码 (unknown confirmation code)"
        return f"0x{code:02X} {known.zh} ({known.en})"


_MEANINGS: dict[Confirmation, tuple[str, str]] = {
    Confirmation.OK: ("指令执行完毕或OK", "command executed, OK"),
    Confirmation.PACKET_ERROR: ("数据包接收错误", "error receiving the packet"),
    Confirmation.NO_FINGER: ("传感器上没有手指", "no finger on the sensor"),
    Confirmation.ENROLL_FAILED: ("录入指纹图像失败", "failed to capture the finger image"),
    Confirmation.IMAGE_TOO_DRY: ("指纹图像太干、太淡而生不成特征", "image too dry or faint"),
    Confirmation.IMAGE_TOO_WET: ("指纹图像太湿、太糊而生不成特征", "image too wet or blurred"),
    Confirmation.IMAGE_TOO_MESSY: ("指纹图像太乱而生不成特征", "image too messy"),
    Confirmation.TOO_FEW_FEATURES: ("特征点太少而生不成特征", "too few feature points"),
    Confirmation.NO_MATCH: ("指纹不匹配", "fingers do not match"),
    Confirmation.NOT_FOUND: ("没搜索到指纹", "no matching template found"),
    Confirmation.MERGE_FAILED: ("特征合并失败", "failed to merge characteristics"),
    Confirmation.BAD_LOCATION: ("访问指纹库时地址序号超出范围", "page number out of range"),
    Confirmation.READ_TEMPLATE_FAILED: ("从指纹库读模板出错或无效", "template unreadable or empty"),
    Confirmation.UPLOAD_CHAR_FAILED: ("上传特征失败", "failed to upload characteristics"),
    Confirmation.CANNOT_RECEIVE_DATA: ("模块不能接收后续数据包", "cannot receive data packets"),
    Confirmation.UPLOAD_IMAGE_FAILED: ("上传图像失败", "failed to upload the image"),
    Confirmation.DELETE_FAILED: ("删除模板失败", "failed to delete the template"),
    Confirmation.EMPTY_FAILED: ("清空指纹库失败", "failed to empty the library"),
    Confirmation.LOW_POWER_FAILED: ("不能进入低功耗状态", "cannot enter low-power state"),
    Confirmation.WRONG_PASSWORD: ("口令不正确", "wrong password"),
    Confirmation.RESET_FAILED: ("系统复位失败", "system reset failed"),
    Confirmation.NO_VALID_IMAGE: (
        "缓冲区内没有有效原始图而生不成图像",
        "no valid image in the buffer",
    ),
    Confirmation.UPGRADE_FAILED: ("在线升级失败", "online upgrade failed"),
    Confirmation.FINGER_NOT_MOVED: ("残留指纹或两次采集之间手指没有移动过", "finger not moved"),
    Confirmation.FLASH_ERROR: ("读写FLASH出错", "flash read/write error"),
    Confirmation.UNDEFINED_ERROR: ("未定义错误", "undefined error"),
    Confirmation.INVALID_REGISTER: ("无效寄存器号", "invalid register number"),
    Confirmation.BAD_REGISTER_VALUE: ("寄存器设定内容错误", "invalid register value"),
    Confirmation.BAD_NOTEPAD_PAGE: ("记事本页码指定错误", "invalid notepad page"),
    Confirmation.PORT_ERROR: ("端口操作失败", "port operation failed"),
    Confirmation.AUTO_ENROLL_FAILED: ("自动注册失败", "automatic enrolment failed"),
    Confirmation.LIBRARY_FULL: ("指纹库满", "template library full"),
    Confirmation.WRONG_ADDRESS: ("地址码错误", "wrong address"),
    Confirmation.PASSWORD_REQUIRED: ("必须验证口令", "password must be verified first"),
}


class ProtocolError(Exception):
    """A frame or reply that does not follow the protocol."""


def checksum(pid: int, payload: bytes) -> int:
    """The 16-bit sum over packet id, the two length bytes and the payload."""
    length = len(payload) + CHECKSUM_LEN
    return (pid + (length >> 8) + (length & 0xFF) + sum(payload)) & 0xFFFF


@dataclass(frozen=True)
class Frame:
    """One well-formed packet."""

    address: int
    pid: int
    payload: bytes

    def encode(self) -> bytes:
        """The packet's bytes on the wire."""
        return build_frame(self.address, self.pid, self.payload)

    @property
    def code(self) -> int:
        """First payload byte: the instruction of a command, the confirmation code of an ack."""
        if not self.payload:
            raise ProtocolError("empty payload")
        return self.payload[0]


@dataclass(frozen=True)
class CorruptFrame:
    """A packet whose header was plausible but whose checksum did not add up."""

    raw: bytes
    expected: int
    received: int


ParseEvent = Frame | CorruptFrame


def build_frame(address: int, pid: int, payload: bytes) -> bytes:
    """Encode one packet; raises ``ValueError`` on out-of-range fields."""
    if not 0 <= address <= 0xFFFFFFFF:
        raise ValueError(f"address out of range: {address!r}")
    if not 0 <= pid <= 0xFF:
        raise ValueError(f"packet id out of range: {pid!r}")
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload too long: {len(payload)} > {MAX_PAYLOAD}")
    length = len(payload) + CHECKSUM_LEN
    return (
        START
        + struct.pack(">IBH", address, pid, length)
        + bytes(payload)
        + struct.pack(">H", checksum(pid, payload))
    )


def parse_frame(data: bytes) -> Frame:
    """Decode exactly one packet (no leading or trailing bytes); raises ``ProtocolError``."""
    parser = FrameParser()
    events = parser.feed(data)
    if len(events) != 1 or parser.pending or parser.discarded:
        raise ProtocolError(f"not exactly one frame: {data.hex(' ')}")
    event = events[0]
    if isinstance(event, CorruptFrame):
        raise ProtocolError(
            f"bad checksum: expected {event.expected:04X}, got {event.received:04X}"
        )
    return event


def _valid_pid(pid: int) -> bool:
    return pid in (PacketId.COMMAND, PacketId.DATA, PacketId.ACK, PacketId.END_DATA)


@dataclass
class FrameParser:
    """Incremental parser: feed it arbitrary chunks of a byte stream, get complete frames.

    Bytes before an ``EF 01`` start are noise and are dropped (counted in ``discarded``). A
    candidate start whose header is implausible (unknown packet id, length out of range) is
    skipped. A complete candidate with a bad checksum is reported as ``CorruptFrame`` and
    scanning resumes one byte after its start, so a genuine packet hidden inside it is still
    found. While a candidate is incomplete, a later candidate that is already complete and
    valid wins: noise that looks like the header of a long packet must not swallow the real
    reply that follows it.
    """

    buffer: bytearray = field(default_factory=bytearray)
    discarded: int = 0
    # The bytes of the last chunk that was exactly one valid frame, and that frame: an idle
    # reader answers GenImg with the same 12 bytes ten times a second; parse them once.
    _last: tuple[bytes, Frame] | None = field(default=None, repr=False, compare=False)

    @property
    def pending(self) -> int:
        """Bytes held back as the possible beginning of a frame."""
        return len(self.buffer)

    def reset(self) -> None:
        """Forget any partial input (e.g. after flushing the line)."""
        self.buffer.clear()

    def feed(self, data: bytes) -> list[ParseEvent]:
        """Add bytes; return every frame (or corrupt frame) completed by them, in order."""
        last = self._last
        if last is not None and not self.buffer and data == last[0]:
            return [last[1]]
        whole, discarded = not self.buffer, self.discarded
        self.buffer.extend(data)
        events = list(self._drain())
        if (
            whole
            and not self.buffer
            and self.discarded == discarded
            and len(events) == 1
            and isinstance(events[0], Frame)
        ):
            self._last = (bytes(data), events[0])
        return events

    def _drain(self) -> Iterator[ParseEvent]:
        buf = self.buffer
        while True:
            start = buf.find(START)
            if start < 0:
                # Keep a trailing EF: it may be the first half of a start code.
                keep = 1 if buf[-1:] == START[:1] else 0
                self.discarded += len(buf) - keep
                del buf[: len(buf) - keep]
                return
            if start:
                self.discarded += start
                del buf[:start]
            status, event = self._try_at(0)
            if status == "frame":
                assert event is not None
                del buf[: self._frame_len(0)]
                yield event
                continue
            if status == "corrupt":
                assert event is not None
                yield event
                self.discarded += 1
                del buf[:1]
                continue
            if status == "invalid":
                self.discarded += 1
                del buf[:1]
                continue
            # Incomplete at 0: look for a later complete, valid frame that supersedes it.
            later = self._later_complete_frame()
            if later is None:
                return
            self.discarded += later
            del buf[:later]

    def _frame_len(self, at: int) -> int:
        length = int.from_bytes(self.buffer[at + 7 : at + 9], "big")
        return HEADER_LEN + length

    def _try_at(self, at: int) -> tuple[str, ParseEvent | None]:
        buf = self.buffer
        if len(buf) - at < HEADER_LEN:
            return "incomplete", None
        pid = buf[at + 6]
        length = int.from_bytes(buf[at + 7 : at + 9], "big")
        if not _valid_pid(pid) or not CHECKSUM_LEN <= length <= MAX_LENGTH_FIELD:
            return "invalid", None
        total = HEADER_LEN + length
        if len(buf) - at < total:
            return "incomplete", None
        payload = bytes(buf[at + HEADER_LEN : at + total - CHECKSUM_LEN])
        received = int.from_bytes(buf[at + total - CHECKSUM_LEN : at + total], "big")
        expected = checksum(pid, payload)
        if received != expected:
            return "corrupt", CorruptFrame(bytes(buf[at : at + total]), expected, received)
        address = int.from_bytes(buf[at + 2 : at + 6], "big")
        return "frame", Frame(address, pid, payload)

    def _later_complete_frame(self) -> int | None:
        buf = self.buffer
        at = buf.find(START, 1)
        while at >= 0:
            status, _ = self._try_at(at)
            if status == "frame":
                return at
            at = buf.find(START, at + 1)
        return None


# --- commands (host -> module) -------------------------------------------------------------


def command(address: int, instruction: int, args: bytes = b"") -> bytes:
    """A command packet for ``instruction`` with its argument bytes."""
    return build_frame(address, PacketId.COMMAND, bytes([instruction]) + args)


@functools.lru_cache(maxsize=32)
def gen_img(address: int = DEFAULT_ADDRESS) -> bytes:
    """GenImg: capture an image of the finger on the sensor (built once per address: an
    idle reader sends it ten times a second)."""
    return command(address, Instruction.GEN_IMG)


def img2tz(buffer_id: int, address: int = DEFAULT_ADDRESS) -> bytes:
    """Img2Tz: turn the captured image into characteristics in CharBuffer ``buffer_id``."""
    _check_buffer(buffer_id)
    return command(address, Instruction.IMG2TZ, bytes([buffer_id]))


def search(buffer_id: int, start: int, count: int, address: int = DEFAULT_ADDRESS) -> bytes:
    """Search: look CharBuffer ``buffer_id`` up in pages ``start`` .. ``start + count - 1``."""
    _check_buffer(buffer_id)
    return command(address, Instruction.SEARCH, struct.pack(">BHH", buffer_id, start, count))


def reg_model(address: int = DEFAULT_ADDRESS) -> bytes:
    """RegModel: merge CharBuffer 1 and 2 into one template (left in both buffers)."""
    return command(address, Instruction.REG_MODEL)


def store(buffer_id: int, page: int, address: int = DEFAULT_ADDRESS) -> bytes:
    """Store: write CharBuffer ``buffer_id`` to flash page ``page``."""
    _check_buffer(buffer_id)
    return command(address, Instruction.STORE, struct.pack(">BH", buffer_id, page))


def load_char(buffer_id: int, page: int, address: int = DEFAULT_ADDRESS) -> bytes:
    """LoadChar: read flash page ``page`` into CharBuffer ``buffer_id``."""
    _check_buffer(buffer_id)
    return command(address, Instruction.LOAD_CHAR, struct.pack(">BH", buffer_id, page))


def up_char(buffer_id: int, address: int = DEFAULT_ADDRESS) -> bytes:
    """UpChar: send CharBuffer ``buffer_id`` to the host (an ack, then data packets)."""
    _check_buffer(buffer_id)
    return command(address, Instruction.UP_CHAR, bytes([buffer_id]))


def down_char(buffer_id: int, address: int = DEFAULT_ADDRESS) -> bytes:
    """DownChar: announce a template for CharBuffer ``buffer_id`` (the module acks, then the
    host sends it as data packets, see :func:`data_packets`)."""
    _check_buffer(buffer_id)
    return command(address, Instruction.DOWN_CHAR, bytes([buffer_id]))


def match(address: int = DEFAULT_ADDRESS) -> bytes:
    """Match: compare CharBuffer 1 with CharBuffer 2."""
    return command(address, Instruction.MATCH)


def delete_char(page: int, count: int = 1, address: int = DEFAULT_ADDRESS) -> bytes:
    """DeleteChar: delete ``count`` templates from page ``page`` on."""
    return command(address, Instruction.DELETE_CHAR, struct.pack(">HH", page, count))


def empty(address: int = DEFAULT_ADDRESS) -> bytes:
    """Empty: delete every template."""
    return command(address, Instruction.EMPTY)


def read_sys_para(address: int = DEFAULT_ADDRESS) -> bytes:
    """ReadSysPara: read the system parameters (capacity, address, packet size, baud)."""
    return command(address, Instruction.READ_SYS_PARA)


def template_num(address: int = DEFAULT_ADDRESS) -> bytes:
    """TemplateNum: how many templates are stored."""
    return command(address, Instruction.TEMPLATE_NUM)


def read_index_table(index_page: int, address: int = DEFAULT_ADDRESS) -> bytes:
    """ReadIndexTable: which of the 256 slots of index page ``index_page`` hold a template."""
    if not 0 <= index_page <= 3:
        raise ValueError(f"index page must be 0..3, not {index_page}")
    return command(address, Instruction.READ_INDEX_TABLE, bytes([index_page]))


def vfy_pwd(password: int, address: int = DEFAULT_ADDRESS) -> bytes:
    """VfyPwd: hand the module its 4-byte password."""
    return command(address, Instruction.VFY_PWD, struct.pack(">I", password))


def set_pwd(password: int, address: int = DEFAULT_ADDRESS) -> bytes:
    """SetPwd: change the module's password."""
    return command(address, Instruction.SET_PWD, struct.pack(">I", password))


def set_adder(new_address: int, address: int = DEFAULT_ADDRESS) -> bytes:
    """SetAdder: change the module's address."""
    return command(address, Instruction.SET_ADDER, struct.pack(">I", new_address))


def get_random_code(address: int = DEFAULT_ADDRESS) -> bytes:
    """GetRandomCode: a 32-bit random number from the module."""
    return command(address, Instruction.GET_RANDOM_CODE)


def _check_buffer(buffer_id: int) -> None:
    if buffer_id not in (1, 2):
        raise ValueError(f"CharBuffer must be 1 or 2, not {buffer_id}")


# --- replies (module -> host) --------------------------------------------------------------

# Payload length (confirmation code included) of a reply to each instruction. The transport
# checks it so that a late reply to an earlier command is never taken for the current one.
REPLY_LENGTHS: dict[int, int] = {
    Instruction.GEN_IMG: 1,
    Instruction.IMG2TZ: 1,
    Instruction.MATCH: 3,
    Instruction.SEARCH: 5,
    Instruction.REG_MODEL: 1,
    Instruction.STORE: 1,
    Instruction.LOAD_CHAR: 1,
    Instruction.UP_CHAR: 1,  # the ack; the template follows in data packets
    Instruction.DOWN_CHAR: 1,
    Instruction.DELETE_CHAR: 1,
    Instruction.EMPTY: 1,
    Instruction.SET_SYS_PARA: 1,
    Instruction.READ_SYS_PARA: 17,
    Instruction.SET_PWD: 1,
    Instruction.VFY_PWD: 1,
    Instruction.GET_RANDOM_CODE: 5,
    Instruction.SET_ADDER: 1,
    Instruction.TEMPLATE_NUM: 3,
    Instruction.READ_INDEX_TABLE: 33,
}


# --- data transfers (UpChar, DownChar) ------------------------------------------------------

PACKET_SIZES = (32, 64, 128, 256)  # ReadSysPara's packet size code 0..3
TEMPLATE_SIZE = 512  # a characteristics file of the R30x / AS608 family (2 x 256 bytes)


def data_packets(address: int, data: bytes, packet_size: int) -> bytes:
    """``data`` as the module's data transfer: packets of ``packet_size`` payload bytes with
    packet id DATA (0x02), the last one END_DATA (0x08). Either side sends it the same way:
    the module after the ack of UpChar, the host after the ack of DownChar."""
    if packet_size not in PACKET_SIZES:
        raise ValueError(f"packet size must be one of {PACKET_SIZES}, not {packet_size}")
    if not data:
        raise ValueError("a data transfer carries at least one byte")
    chunks = [data[at : at + packet_size] for at in range(0, len(data), packet_size)]
    return b"".join(
        build_frame(address, PacketId.END_DATA if n == len(chunks) - 1 else PacketId.DATA, chunk)
        for n, chunk in enumerate(chunks)
    )


@dataclass
class DataAssembler:
    """Collects the frames of one data transfer into the bytes they carry (pure: frames in).

    ``add`` takes each frame (or corrupt frame) that follows the ack, in order, and returns
    True once the END_DATA packet has come. Refused with ``ProtocolError``: a corrupt
    packet (a bad checksum: the transfer is broken, it cannot be patched), a packet from
    another address, a packet other than DATA / END_DATA, a payload longer than
    ``packet_size``, and more than ``limit`` bytes in all.
    """

    address: int
    packet_size: int = 128
    limit: int = 4 * TEMPLATE_SIZE
    chunks: list[bytes] = field(default_factory=list)
    complete: bool = False

    def add(self, event: ParseEvent) -> bool:
        """Add one frame; True when the transfer is complete."""
        if self.complete:
            raise ProtocolError("data after the end packet")
        if isinstance(event, CorruptFrame):
            raise ProtocolError(
                f"data packet with a bad checksum: expected {event.expected:04X}, "
                f"got {event.received:04X}"
            )
        if event.address != self.address:
            raise ProtocolError(f"data packet from address {event.address:08X}")
        if event.pid not in (PacketId.DATA, PacketId.END_DATA):
            raise ProtocolError(f"expected a data packet, got packet id 0x{event.pid:02X}")
        if not event.payload or len(event.payload) > self.packet_size:
            raise ProtocolError(
                f"data packet of {len(event.payload)} bytes (packet size {self.packet_size})"
            )
        self.chunks.append(event.payload)
        if sum(len(chunk) for chunk in self.chunks) > self.limit:
            raise ProtocolError(f"data transfer longer than {self.limit} bytes")
        self.complete = event.pid == PacketId.END_DATA
        return self.complete

    @property
    def data(self) -> bytes:
        """The bytes received so far."""
        return b"".join(self.chunks)


def parse_data(raw: bytes, address: int, packet_size: int = 128) -> bytes:
    """The bytes of one complete data transfer in ``raw`` (nothing before or after)."""
    parser = FrameParser()
    events = parser.feed(raw)
    assembler = DataAssembler(address, packet_size)
    for event in events:
        assembler.add(event)
    if not assembler.complete or parser.pending or parser.discarded:
        raise ProtocolError("not exactly one complete data transfer")
    return assembler.data


def ack(address: int, code: int, data: bytes = b"") -> bytes:
    """An acknowledge packet with confirmation ``code`` and extra ``data``."""
    return build_frame(address, PacketId.ACK, bytes([code]) + data)


@dataclass(frozen=True)
class SearchResult:
    """Reply to Search: ``page``/``score`` are meaningful only when ``found``."""

    code: int
    page: int
    score: int

    @property
    def found(self) -> bool:
        """Whether the module found a matching template."""
        return self.code == Confirmation.OK


def parse_search(frame: Frame) -> SearchResult:
    """Decode a Search reply."""
    payload = _ack_payload(frame, 5)
    code, page, score = struct.unpack(">BHH", payload)
    return SearchResult(code, page, score)


def parse_template_num(frame: Frame) -> int:
    """Decode a TemplateNum reply into the number of stored templates."""
    payload = _ack_payload(frame, 3)
    _require_ok(payload[0])
    return int.from_bytes(payload[1:3], "big")


def parse_index_table(frame: Frame, index_page: int) -> set[int]:
    """Decode a ReadIndexTable reply into the set of used page numbers."""
    payload = _ack_payload(frame, 33)
    _require_ok(payload[0])
    used: set[int] = set()
    for byte_no, byte in enumerate(payload[1:]):
        for bit in range(8):
            if byte >> bit & 1:
                used.add(index_page * INDEX_PAGE_BITS + byte_no * 8 + bit)
    return used


def index_table_bytes(used: set[int], index_page: int) -> bytes:
    """The 32-byte bitmap of ReadIndexTable for ``index_page`` (bit 0 of byte 0 = first slot)."""
    table = bytearray(32)
    base = index_page * INDEX_PAGE_BITS
    for page in used:
        offset = page - base
        if 0 <= offset < INDEX_PAGE_BITS:
            table[offset // 8] |= 1 << (offset % 8)
    return bytes(table)


@dataclass(frozen=True)
class SystemParameters:
    """The 16-byte block of ReadSysPara."""

    status: int
    system_id: int
    capacity: int
    security_level: int
    address: int
    packet_size_code: int
    baud_multiplier: int

    @property
    def packet_size(self) -> int:
        """Data packet payload size in bytes (32, 64, 128 or 256)."""
        return 32 << self.packet_size_code

    @property
    def baud(self) -> int:
        """Line speed in baud."""
        return 9600 * self.baud_multiplier

    def encode(self) -> bytes:
        """The 16 bytes that follow the confirmation code."""
        return struct.pack(
            ">HHHHIHH",
            self.status,
            self.system_id,
            self.capacity,
            self.security_level,
            self.address,
            self.packet_size_code,
            self.baud_multiplier,
        )


def parse_sys_para(frame: Frame) -> SystemParameters:
    """Decode a ReadSysPara reply."""
    payload = _ack_payload(frame, 17)
    _require_ok(payload[0])
    return SystemParameters(*struct.unpack(">HHHHIHH", payload[1:17]))


class ModuleError(Exception):
    """The module answered with a confirmation code other than OK."""

    def __init__(self, code: int) -> None:
        super().__init__(Confirmation.describe(code))
        self.code = code


def _require_ok(code: int) -> None:
    if code != Confirmation.OK:
        raise ModuleError(code)


def _ack_payload(frame: Frame, length: int) -> bytes:
    if frame.pid != PacketId.ACK:
        raise ProtocolError(f"expected an ack packet, got packet id 0x{frame.pid:02X}")
    if len(frame.payload) < 1:
        raise ProtocolError("empty ack")
    if frame.payload[0] != Confirmation.OK and len(frame.payload) < length:
        # Failure replies of some modules are shorter; pad so callers can unpack.
        return frame.payload + bytes(length - len(frame.payload))
    if len(frame.payload) != length:
        raise ProtocolError(f"ack payload of {len(frame.payload)} bytes, expected {length}")
    return frame.payload
