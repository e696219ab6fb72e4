import sys

from practicum.cli import main

sys.exit(main())
