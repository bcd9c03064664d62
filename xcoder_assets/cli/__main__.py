"""`python -m xcoder_assets.cli ...`, as the `xcoder` script."""

import sys

from xcoder_assets.cli.main import main

sys.exit(main())
