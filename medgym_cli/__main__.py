"""`python -m medgym ...` is the `medgym` command."""

import sys

from medgym_cli.main import main

sys.exit(main())
