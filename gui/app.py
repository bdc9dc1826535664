"""Starting the desktop app: ``python run_gui.py`` or ``lass-gui``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PyQt6.QtCore import QSettings
    from PyQt6.QtWidgets import QWidget

    from gui.main_window import MainWindow


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

    from PyQt6.QtWidgets import QApplication

    app = QApplication(sys.argv[:1])
    starting = starting_screen()
    window = open_window(args.checkpoint)
    starting.close()
    code = app.exec()
    window.session.stop()
    return code


if __name__ == "__main__":
    sys.exit(main())
