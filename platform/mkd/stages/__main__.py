"""`python -m mkd.stages NAME -c CONFIG [options]` (mkd.stages.runner)."""

import sys

from mkd.stages.runner import main

sys.exit(main())
