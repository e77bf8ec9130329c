"""Old import path of ``speechbrain_ast.pretrained.initialization`` (kept working)."""

from speechbrain_ast.pretrained.initialization import (  # noqa: F401
    INIT_CHOICES,
    initialize_encoder,
)
