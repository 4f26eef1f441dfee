import sys

from rung.cli.main import main

sys.exit(main())
