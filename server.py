"""Entry point: ``python server.py --host H --port P --db PATH`` serves the app;
``python server.py adduser NAME --password PW [--db PATH]`` creates a user.
See ``backend/cli.py``."""

import sys

from backend.cli import main

if __name__ == "__main__":
    sys.exit(main())
