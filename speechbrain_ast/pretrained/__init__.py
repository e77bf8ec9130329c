"""Outside weights for the AST: one home for every pretrained source.

* ``timm_imagenet``: ImageNet ViT/DeiT (timm) -> AST encoder (``from_timm``);
* ``official``: the official AST ``.pth`` checkpoints;
* ``huggingface``: HuggingFace ``ASTForAudioClassification`` folders and Hub ids;
* ``ast_checkpoints``: either of those as encoder + head (``load_checkpoint``)
  or as a SpeechBrain model folder (``import_checkpoint``);
* ``geometry``: the official position-embedding rule and patch-kernel sum;
* ``weights``: reading weight files, strict loading;
* ``ssl_checkpoint``: the self-supervised encoder file of ``recipes/SSL``;
* ``initialization``: ``initialize_encoder``, the recipes' scratch / imagenet /
  audioset / ssl choice.

Authors
 * speechbrain-ast contributors 2026
"""

from speechbrain_ast.pretrained.ast_checkpoints import (
    import_checkpoint,
    load_checkpoint,
    read_labels_csv,
)
from speechbrain_ast.pretrained.geometry import adapt_pos_embed, resize_to_n_frames
from speechbrain_ast.pretrained.huggingface import (
    HubUnavailableError,
    hf_local_folder,
    load_hf_folder,
)
from speechbrain_ast.pretrained.initialization import INIT_CHOICES, initialize_encoder
from speechbrain_ast.pretrained.official import load_official_state_dict
from speechbrain_ast.pretrained.timm_imagenet import from_timm

__all__ = [
    "INIT_CHOICES",
    "HubUnavailableError",
    "adapt_pos_embed",
    "from_timm",
    "hf_local_folder",
    "import_checkpoint",
    "initialize_encoder",
    "load_checkpoint",
    "load_hf_folder",
    "load_official_state_dict",
    "read_labels_csv",
    "resize_to_n_frames",
]
