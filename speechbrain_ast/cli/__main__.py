"""``python -m speechbrain_ast.cli``: the ``speechbrain-ast`` command.

Authors
 * speechbrain-ast contributors 2026
"""

import sys

from speechbrain_ast.cli import main

if __name__ == "__main__":
    sys.exit(main())
