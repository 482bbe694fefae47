"""Transfer learning: dropout heads on pretrained backbones.

- `build_classifier` / `build_head`: a frozen backbone (BatchNorm in
  inference mode), global pooling, an optional hidden layer and a schedulable
  dropout before the output; the head alone trains on cached features.
- `unfreeze_top_stage`, `insert_drop_path`: fine-tune the last stage, with
  stochastic depth on its residual branches.
- `insert_dropout`, `make_schedulable`, `find_unschedulable_dropout`,
  `saved_rates`: whole-model operations that live in `kerasdrop.models`
  (they are not about transfer learning) and keep these names here.
- `load_backbone`, `small_resnet`, `pretrained_small_resnet`: Keras's
  ResNet50 / ResNet50V2, or a small ResNet pretrained offline on digits.
"""

from kerasdrop.models.insert_dropout import insert_dropout
from kerasdrop.models.make_schedulable import make_schedulable
from kerasdrop.models.make_schedulable import saved_rates
from kerasdrop.models.walk import find_unschedulable_dropout
from kerasdrop.transfer.backbones import BACKBONES
from kerasdrop.transfer.backbones import load_backbone
from kerasdrop.transfer.classifier import build_classifier
from kerasdrop.transfer.classifier import build_head
from kerasdrop.transfer.classifier import copy_head_weights
from kerasdrop.transfer.classifier import feature_extractor
from kerasdrop.transfer.classifier import freeze_batchnorm
from kerasdrop.transfer.classifier import head_layers
from kerasdrop.transfer.digits import few_shot_split
from kerasdrop.transfer.digits import load_digits_images
from kerasdrop.transfer.fine_tuning import find_backbone
from kerasdrop.transfer.fine_tuning import insert_drop_path
from kerasdrop.transfer.fine_tuning import residual_branch_ends
from kerasdrop.transfer.fine_tuning import top_stage_layers
from kerasdrop.transfer.fine_tuning import unfreeze_top_stage
from kerasdrop.transfer.small_resnet import CACHE_ENV_VARIABLE
from kerasdrop.transfer.small_resnet import SOURCE_CLASSES
from kerasdrop.transfer.small_resnet import TARGET_CLASSES
from kerasdrop.transfer.small_resnet import default_cache_dir
from kerasdrop.transfer.small_resnet import pretrain_small_resnet
from kerasdrop.transfer.small_resnet import pretrained_small_resnet
from kerasdrop.transfer.small_resnet import random_shift
from kerasdrop.transfer.small_resnet import small_resnet
from kerasdrop.transfer.small_resnet import small_resnet_path
from kerasdrop.transfer.small_resnet import source_task
