"""Read the files of a Qt resource bundle (a ``.rcc`` file, as ``rcc --binary`` writes it): GCompris
ships its activities' recorded sounds this way, and the library reads them without Qt.

The layout (Qt's ``qresource.cpp``): a header ``qres``, the format version and the offsets of three
tables, all big-endian. The tree holds one node per file or folder, the names table each name as
UTF-16 behind its length and hash, the data table each file behind its length.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from models.errors import UserError

MAGIC = b"qres"
HEADER_BYTES = 20  # the magic, the version and the three tables' offsets
FLAG_ZLIB = 0x01  # the payload is qCompress output: 4 bytes of the unpacked length, then a zlib stream
FLAG_FOLDER = 0x02
FLAG_ZSTD = 0x04
NODE_BYTES_V1 = 14
NODE_BYTES = 22  # version 2 on: each node also holds its file's modification time


class ResourceBundleError(UserError):
    """A file is not a Qt resource bundle this reader understands: the message says which file."""


def bundle_files(path: Path) -> dict[str, bytes]:
    """Every file in the bundle at ``path``: its path inside the bundle (``/folder/name``) -> its bytes."""
    blob = Path(path).read_bytes()
    if blob[:4] != MAGIC or len(blob) < HEADER_BYTES:
        raise ResourceBundleError(f"{path} is not a Qt resource bundle: it does not start with 'qres'")
    version, tree, data, names = struct.unpack_from(">4i", blob, 4)
    node_bytes = NODE_BYTES_V1 if version == 1 else NODE_BYTES

    def name_at(offset: int) -> str:
        (length,) = struct.unpack_from(">H", blob, names + offset)
        start = names + offset + 6  # behind the length and the name's hash
        return blob[start : start + 2 * length].decode("utf-16-be")

    files: dict[str, bytes] = {}
    pending = [(0, "")]  # (node index, its folder's path); node 0 is the root folder
    while pending:
        index, folder = pending.pop()
        node = tree + index * node_bytes
        name_offset, flags = struct.unpack_from(">iH", blob, node)
        inside = f"{folder}/{name_at(name_offset)}" if index else ""
        if flags & FLAG_FOLDER:
            count, first = struct.unpack_from(">ii", blob, node + 6)
            pending += [(child, inside) for child in range(first, first + count)]
            continue
        (offset,) = struct.unpack_from(">i", blob, node + 10)
        (length,) = struct.unpack_from(">I", blob, data + offset)
        payload = blob[data + offset + 4 : data + offset + 4 + length]
        if flags & FLAG_ZSTD:
            raise ResourceBundleError(f"{path}: {inside} is zstd-compressed, which this reader does not unpack")
        files[inside] = zlib.decompress(payload[4:]) if flags & FLAG_ZLIB else payload
    return files
