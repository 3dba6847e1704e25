"""`python -m bench.load` (or `python bench/load`): the load bench (see bench/load/__init__.py)."""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a directory (`python bench/load`): the checkout is not on the path
    sys.path.insert(0, str(ROOT))

from bench.load.cli import main  # noqa: E402

sys.exit(main())
