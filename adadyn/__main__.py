import sys

from adadyn.cli import main

sys.exit(main())
