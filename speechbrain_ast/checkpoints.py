"""Old import path of the checkpoint readers, now in ``speechbrain_ast.pretrained``."""

from speechbrain_ast.pretrained.ast_checkpoints import (  # noqa: F401
    AUDIOSET_CLASSES,
    import_checkpoint,
    load_checkpoint,
    read_labels_csv,
)
from speechbrain_ast.pretrained.geometry import resize_to_n_frames  # noqa: F401
from speechbrain_ast.pretrained.huggingface import (  # noqa: F401
    convert_hf_state_dict,
    load_hf_folder,
)
from speechbrain_ast.pretrained.official import (  # noqa: F401
    load_official_state_dict,
    strides_from_name,
)
