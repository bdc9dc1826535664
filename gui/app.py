"""Starting the desktop app: ``python run_gui.py`` or ``lass-gui``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PyQt6.QtCore import QSettings

    from gui.main_window import MainWindow


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

    from PyQt6.QtWidgets import QApplication

    app = QApplication(sys.argv[:1])
    window = open_window(args.checkpoint)
    code = app.exec()
    window.session.stop()
    return code


if __name__ == "__main__":
    sys.exit(main())
