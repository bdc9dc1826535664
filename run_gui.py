"""Start the desktop app: python run_gui.py [--checkpoint CKPT]."""

import sys

from gui.app import main

if __name__ == "__main__":
    sys.exit(main())
