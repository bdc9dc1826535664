"""Starting the desktop app: ``python run_gui.py`` or ``lass-gui``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from models.separator import Separator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lass-gui", description="Separate anything you describe, live.")
    parser.add_argument("--checkpoint", type=Path, help="model to start with (default: the bundled model)")
    args = parser.parse_args(argv)

    from PyQt6.QtWidgets import QApplication, QMessageBox

    from gui.main_window import MainWindow
    from realtime.live_session import LiveSession

    app = QApplication(sys.argv[:1])
    try:
        separator = Separator.from_checkpoint(args.checkpoint)
    except Exception as error:  # shown, not a traceback
        QMessageBox.critical(None, "Cannot load the model", str(error))
        return 2
    name = args.checkpoint.name if args.checkpoint else "bundled default"
    window = MainWindow(LiveSession(separator, name))
    window.resize(1200, 800)
    window.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
