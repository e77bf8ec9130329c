"""Old import path of ``speechbrain_ast.pretrained.timm_imagenet`` (kept working)."""

from speechbrain_ast.pretrained.geometry import (  # noqa: F401
    adapt_pos_embed,
    adapt_pos_embed_tokens,
    patch_weight_to_mono,
)
from speechbrain_ast.pretrained.timm_imagenet import (  # noqa: F401
    MODEL_SIZES,
    from_timm,
    timm_model_name,
)
from speechbrain_ast.pretrained.weights import (  # noqa: F401
    HEADS_BY_WIDTH,
    load_state_dict_strict,
    load_tensor_file,
)
