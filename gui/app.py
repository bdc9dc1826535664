"""Starting the desktop app: ``python run_gui.py`` or ``lass-gui``."""

from __future__ import annotations

import argparse
import ctypes.util
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PyQt6.QtCore import QSettings
    from PyQt6.QtWidgets import QWidget

    from gui.main_window import MainWindow


# Libraries Qt's X11 (xcb) platform plugin needs beyond a minimal desktop, and their packages on
# Debian/Ubuntu, Fedora and Arch. libxcb-cursor is opened at run time, so ldd does not list it.
XCB_PACKAGES = {
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm", "xcb-util-wm"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms", "xcb-util-keysyms"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image", "xcb-util-image"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil", "xcb-util-renderutil"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11", "libxkbcommon-x11"),
}
INSTALLERS = ("sudo apt install", "sudo dnf install", "sudo pacman -S")
GUI_PACKAGES = ("PyQt6", "pyqtgraph")  # the [gui] extra


def missing_gui_packages() -> list[str]:
    """The Python packages of the app that are not installed (found without importing them)."""
    return [name for name in GUI_PACKAGES if importlib.util.find_spec(name) is None]


def missing_window_libraries() -> list[str]:
    """The libraries Qt's xcb plugin cannot find on this system (``ldd`` on the plugin, and a lookup
    of those it opens at run time)."""
    import PyQt6

    plugin = Path(PyQt6.__file__).parent / "Qt6" / "plugins" / "platforms" / "libqxcb.so"
    if not plugin.is_file() or shutil.which("ldd") is None:
        return []
    listing = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True).stdout
    missing = unresolved_libraries(listing)
    if ctypes.util.find_library("xcb-cursor") is None:
        missing.insert(0, "libxcb-cursor.so.0")
    return missing


def unresolved_libraries(ldd_listing: str) -> list[str]:
    """``libfoo.so.1 => not found`` lines of an ``ldd`` listing -> their names, once each, in order."""
    names = [line.split("=>")[0].strip() for line in ldd_listing.splitlines() if "=> not found" in line]
    return list(dict.fromkeys(names))


def window_libraries_advice(missing: list[str]) -> str:
    """What to install for ``missing``, one command per distribution."""
    known = [XCB_PACKAGES[name] for name in missing if name in XCB_PACKAGES]
    commands = [f"  {installer} {' '.join(packages[i] for packages in known)}" for i, installer in enumerate(INSTALLERS)]
    return (
        f"Qt cannot open a window: it needs {', '.join(missing)}. Install them:\n" + "\n".join(commands)
        + "\n(Debian/Ubuntu, Fedora, Arch). Or run without a display: QT_QPA_PLATFORM=offscreen."
    )


def _opens_x11_windows() -> bool:
    """Qt will use its xcb plugin: asked to, or by default on Linux outside a Wayland session."""
    platform = os.environ.get("QT_QPA_PLATFORM")
    if platform is not None:
        return platform == "xcb"
    return sys.platform.startswith("linux") and not os.environ.get("WAYLAND_DISPLAY")


def starting_screen() -> QWidget:
    """A small window shown while the app's modules load (seconds: torch, transformers), so that
    something answers the launch at once. Needs a QApplication; imports nothing heavy."""
    from PyQt6.QtCore import Qt
    from PyQt6.QtWidgets import QApplication, QLabel

    label = QLabel("lass-live\n\nstarting…", alignment=Qt.AlignmentFlag.AlignCenter)
    label.setWindowTitle("lass-live")
    label.resize(320, 160)
    label.show()
    QApplication.processEvents()
    return label


def open_window(checkpoint: Path | None, settings: QSettings | None = None) -> MainWindow:
    """The window, shown at once; the model (``checkpoint``, or the bundled one) loads behind it."""
    from gui.main_window import MainWindow
    from realtime.live_session import LiveSession

    window = MainWindow(LiveSession(None, "none yet"), settings)
    window.resize(1200, 800)
    window.show()
    window.load_model(checkpoint)
    return window


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lass-gui", description="Separate anything you describe, live.")
    parser.add_argument("--checkpoint", type=Path, help="model to start with (default: the bundled model)")
    args = parser.parse_args(argv)

    if missing := missing_gui_packages():
        print(
            f"lass-gui: error: the app needs {' and '.join(missing)}, which are not installed: "
            "pip install 'lass-live[gui]' (from a checkout: pip install -e '.[gui]'). "
            "The lass command works without them.",
            file=sys.stderr,
        )
        return 2
    if _opens_x11_windows() and (missing := missing_window_libraries()):
        print(f"lass-gui: error: {window_libraries_advice(missing)}", file=sys.stderr)
        return 2

    from PyQt6.QtWidgets import QApplication

    app = QApplication(sys.argv[:1])
    starting = starting_screen()
    window = open_window(args.checkpoint)
    starting.close()
    code = app.exec()
    window.session.close()
    return code


if __name__ == "__main__":
    sys.exit(main())
