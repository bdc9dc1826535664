"""Reading a Qt resource bundle: the files Qt itself reads from it, byte for byte, folders and
zlib-packed files included; anything else is refused, naming the file."""

import pytest

from tests.rcc_writer import rcc_bundle
from training.qt_resources import ResourceBundleError, bundle_files

FILES = {
    "/gcompris/activities/instruments/trumpet.ogg": bytes(range(256)) * 40,
    "/gcompris/activities/instruments/piano.ogg": b"OggS piano",
    "/gcompris/activities/memory/guitar_son1.ogg": b"a guitar note " * 100,
    "/top.qml": b"import QtQuick 2.12\n" * 30,
}
PACKED = {"/gcompris/activities/instruments/trumpet.ogg", "/top.qml"}


def test_every_file_is_read_as_qt_reads_it(tmp_path):
    QtCore = pytest.importorskip("PyQt6.QtCore")
    bundle = tmp_path / "instruments.rcc"
    bundle.write_bytes(rcc_bundle(FILES, compressed=PACKED))
    assert QtCore.QResource.registerResource(str(bundle), "/checked")
    try:
        for path, data in FILES.items():
            qt_file = QtCore.QFile(":/checked" + path)
            assert qt_file.open(QtCore.QIODevice.OpenModeFlag.ReadOnly), path
            assert bytes(qt_file.readAll()) == data
    finally:
        QtCore.QResource.unregisterResource(str(bundle), "/checked")
    assert bundle_files(bundle) == FILES


def test_a_file_that_is_no_bundle_is_refused_by_name(tmp_path):
    not_a_bundle = tmp_path / "sounds.rcc"
    not_a_bundle.write_bytes(b"RIFF....WAVE")
    with pytest.raises(ResourceBundleError, match="sounds.rcc is not a Qt resource bundle"):
        bundle_files(not_a_bundle)
