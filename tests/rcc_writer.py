"""A minimal Qt resource bundle writer (``rcc --binary``, format version 2), for tests: the reader in
training.qt_resources is checked against bundles this writes and Qt's own reader opens."""

import struct
import zlib

from training.qt_resources import FLAG_FOLDER, FLAG_ZLIB, HEADER_BYTES, MAGIC

LANGUAGE_C = 1  # QLocale::C: a file for every locale, as rcc writes it


def qt_hash(name: str) -> int:
    """Qt's hash of a resource name; a folder's children are sorted by it (Qt looks them up by it)."""
    value = 0
    for char in name:  # UTF-16 code units; the names here are all in the basic plane
        value = (value << 4) + ord(char)
        value ^= (value & 0xF0000000) >> 23
        value &= 0x0FFFFFFF
    return value


def rcc_bundle(files: dict[str, bytes], compressed: frozenset[str] | set[str] = frozenset()) -> bytes:
    """A bundle holding ``files`` (``/folder/name`` -> bytes); paths in ``compressed`` are stored zlib-packed."""
    tree: dict = {}
    for path in files:
        *folders, name = path.strip("/").split("/")
        node = tree
        for folder in folders:
            node = node.setdefault(folder, {})
        node[name] = path

    names, data_table, nodes = bytearray(), bytearray(), []
    name_offsets: dict[str, int] = {}

    def name_offset(name: str) -> int:
        if name not in name_offsets:
            name_offsets[name] = len(names)
            names.extend(struct.pack(">HI", len(name), qt_hash(name)) + name.encode("utf-16-be"))
        return name_offsets[name]

    def add_children(folder: dict, node_index: int) -> None:
        children = sorted(folder.items(), key=lambda item: qt_hash(item[0]))
        first = len(nodes)
        nodes[node_index] = nodes[node_index][:2] + (len(children), first)
        nodes.extend([None] * len(children))
        for offset, (name, child) in enumerate(children):
            index = first + offset
            if isinstance(child, dict):
                nodes[index] = (name_offset(name), FLAG_FOLDER, 0, 0)
                add_children(child, index)
            else:
                payload = files[child]
                flags = 0
                if child in compressed:
                    payload, flags = struct.pack(">I", len(payload)) + zlib.compress(payload), FLAG_ZLIB
                nodes[index] = (name_offset(name), flags, 0, len(data_table))
                data_table.extend(struct.pack(">I", len(payload)) + payload)

    nodes.append((0, FLAG_FOLDER, 0, 0))
    add_children(tree, 0)
    tree_bytes = bytearray()
    for offset, flags, children, at in nodes:  # a folder: children, first child; a file: 0, its data
        if flags & FLAG_FOLDER:
            tree_bytes += struct.pack(">iHii", offset, flags, children, at)
        else:
            tree_bytes += struct.pack(">iHhhi", offset, flags, 0, LANGUAGE_C, at)  # any territory
        tree_bytes += struct.pack(">q", 0)  # modification time (version 2)
    tree_at, data_at = HEADER_BYTES, HEADER_BYTES + len(tree_bytes)
    names_at = data_at + len(data_table)
    return MAGIC + struct.pack(">4i", 2, tree_at, data_at, names_at) + tree_bytes + data_table + names
