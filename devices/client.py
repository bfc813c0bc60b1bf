"""Host-side module operations (handshake, capture, search, enrol) over a ``SerialTransport``."""

from __future__ import annotations

from dataclasses import dataclass

from devices import protocol as p
from devices.protocol import Confirmation as C
from devices.transport import SerialTransport


@dataclass
class ModuleClient:
    """The commands the identify and enrol flows need, with replies decoded."""

    transport: SerialTransport
    password: int = p.DEFAULT_PASSWORD
    capacity: int = 300
    packet_size: int = 128  # data packet payload, from ReadSysPara

    @property
    def address(self) -> int:
        """The module address the transport speaks to."""
        return self.transport.address

    def handshake(self) -> p.SystemParameters:
        """Verify the password and read the system parameters (capacity) of the module."""
        code, _ = self.transport.ack_code(p.vfy_pwd(self.password, self.address))
        if code != C.OK:
            raise p.ModuleError(code)
        params = p.parse_sys_para(self.transport.command(p.read_sys_para(self.address)))
        if params.capacity:
            self.capacity = params.capacity
        if params.packet_size_code < len(p.PACKET_SIZES):
            self.packet_size = params.packet_size
        return params

    def capture(self) -> int:
        """GenImg; the confirmation code (OK, NO_FINGER or an image error)."""
        return self.transport.command(p.gen_img(self.transport.address)).payload[0]

    def convert(self, buffer_id: int = 1) -> int:
        """Img2Tz into ``buffer_id``; the confirmation code."""
        return self.transport.ack_code(p.img2tz(buffer_id, self.address))[0]

    def search(self, buffer_id: int = 1) -> p.SearchResult:
        """Search the whole capacity for ``buffer_id``."""
        frame = self.transport.command(p.search(buffer_id, 0, self.capacity, self.address))
        return p.parse_search(frame)

    def reg_model(self) -> int:
        """RegModel; the confirmation code."""
        return self.transport.ack_code(p.reg_model(self.address))[0]

    def store(self, page: int, buffer_id: int = 1) -> int:
        """Store ``buffer_id`` on ``page``; the confirmation code."""
        return self.transport.ack_code(p.store(buffer_id, page, self.address))[0]

    def load(self, page: int, buffer_id: int = 1) -> int:
        """LoadChar: the template on ``page`` into ``buffer_id``; the confirmation code."""
        return self.transport.ack_code(p.load_char(buffer_id, page, self.address))[0]

    def upload(self, buffer_id: int = 1) -> bytes:
        """UpChar: the characteristics file in ``buffer_id`` (raises ``ModuleError``)."""
        code, data = self.transport.command_data(
            p.up_char(buffer_id, self.address), self.packet_size, self._transfer_timeout()
        )
        if code != C.OK:
            raise p.ModuleError(code)
        return data

    def download(self, data: bytes, buffer_id: int = 1) -> None:
        """DownChar: ``data`` into ``buffer_id``, then read back with UpChar and compared
        (the module does not acknowledge the data packets; a packet it refused leaves the
        buffer empty, which the read-back shows). Raises ``ModuleError``."""
        code, _ = self.transport.ack_code(p.down_char(buffer_id, self.address))
        if code != C.OK:
            raise p.ModuleError(code)
        self.transport.send(p.data_packets(self.address, data, self.packet_size))
        if self.upload(buffer_id) != data:
            raise p.ModuleError(C.CANNOT_RECEIVE_DATA)

    def read_template(self, page: int, buffer_id: int = 1) -> bytes:
        """LoadChar + UpChar: the template stored on ``page`` (``ModuleError`` when empty)."""
        code = self.load(page, buffer_id)
        if code != C.OK:
            raise p.ModuleError(code)
        return self.upload(buffer_id)

    def _transfer_timeout(self) -> float:
        # 512 bytes plus headers at 9600 baud take 0.6 s: the ordinary reply deadline plus
        # the line time of the largest transfer, so a slow line is not taken for a dead one.
        line = (p.TEMPLATE_SIZE * 2 * 10) / max(self.transport.baud, 9600)
        return self.transport.timeouts.reply + line

    def delete(self, page: int, count: int = 1) -> int:
        """DeleteChar; the confirmation code."""
        return self.transport.ack_code(p.delete_char(page, count, self.address))[0]

    def template_count(self) -> int:
        """TemplateNum."""
        return p.parse_template_num(self.transport.command(p.template_num(self.address)))

    def used_pages(self) -> set[int]:
        """Every page holding a template (ReadIndexTable over the capacity)."""
        used: set[int] = set()
        for index_page in range((self.capacity + p.INDEX_PAGE_BITS - 1) // p.INDEX_PAGE_BITS):
            frame = self.transport.command(p.read_index_table(index_page, self.address))
            used |= p.parse_index_table(frame, index_page)
        return {page for page in used if page < self.capacity}

    def free_page(self) -> int | None:
        """The lowest page without a template, or None when the library is full."""
        used = self.used_pages()
        return next((page for page in range(self.capacity) if page not in used), None)
