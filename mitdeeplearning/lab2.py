"""Lab 2: computer vision — MNIST classifiers (part 1) and debiasing face detection (part 2).

The names the lab's notebooks call, gathered from the modules that hold them:

* MNIST data (:mod:`.mnist`) and its checks (:mod:`.mnist_checks`);
* the face data (:mod:`.faces`: synthetic faces, the HDF5 loader, the balanced test set);
* the given part-2 pieces (:mod:`.debias`: architectures, oracle, per-group evaluation), the
  benchmark's spread over seeds (:mod:`.seed_spread`) and the part-2 checks (:mod:`.debias_checks`);
* figures (:mod:`.image_plots`);
* the 2020/21 course notebooks' names and meanings (:mod:`.compat2021.lab2`).

TensorFlow is imported only by the functions that need it, so ``mdl.lab2.load_mnist`` and the
face data work without it.
"""

from .compat2021.lab2 import TrainingDatasetLoader, get_test_faces
from .debias import (
    effective_sample_size,
    evaluate_groups,
    make_face_decoder,
    make_standard_classifier,
    oracle_probabilities,
    predict_logits,
)
from .debias_checks import (
    check_dbvae,
    check_dbvae_training,
    check_debiasing_loss,
    check_resampling_loop,
    check_sample_probabilities,
    check_sampling,
    check_vae_loss,
)
from .face_loader import FaceLoader
from .faces import DARKER_FRACTION, GROUPS, group_of, load_test_set, make_synthetic_faces, synthetic_faces_path
from .image_plots import plot_group_accuracy, plot_image_prediction, plot_sample_grid, plot_value_prediction
from .mnist import load_mnist
from .mnist_checks import (
    check_accuracy,
    check_fit_history,
    check_cnn_model,
    check_compiled,
    check_fc_model,
    check_predictions,
    check_train_step,
)
from .seed_spread import load_seed_spread, place_among_seeds, plot_seed_spread

__all__ = [
    # part 1: MNIST
    "load_mnist",
    "check_fc_model",
    "check_cnn_model",
    "check_compiled",
    "check_accuracy",
    "check_fit_history",
    "check_predictions",
    "check_train_step",
    # part 2: face data
    "DARKER_FRACTION",
    "GROUPS",
    "FaceLoader",
    "group_of",
    "load_test_set",
    "make_synthetic_faces",
    "synthetic_faces_path",
    # part 2: the given pieces and the spread over seeds
    "make_standard_classifier",
    "make_face_decoder",
    "effective_sample_size",
    "oracle_probabilities",
    "predict_logits",
    "evaluate_groups",
    "load_seed_spread",
    "place_among_seeds",
    "plot_seed_spread",
    # part 2: checks
    "check_vae_loss",
    "check_sampling",
    "check_debiasing_loss",
    "check_dbvae",
    "check_sample_probabilities",
    "check_resampling_loop",
    "check_dbvae_training",
    # figures
    "plot_image_prediction",
    "plot_value_prediction",
    "plot_sample_grid",
    "plot_group_accuracy",
    # the 2020/21 names (compat2021.lab2)
    "TrainingDatasetLoader",
    "get_test_faces",
]
