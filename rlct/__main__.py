import sys

from rlct.cli import main

sys.exit(main())
