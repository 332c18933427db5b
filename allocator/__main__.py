import sys

from allocator.cli import main

sys.exit(main())
