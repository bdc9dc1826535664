"""The desktop app (PyQt6 + pyqtgraph): a client of realtime.live_session."""
