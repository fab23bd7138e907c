"""Exercise 2: Grad-CAM saliency maps of an ImageNet-trained CNN.

- `core`: the batched Grad-CAM and the CAM family (`GradCAM(model, layer, method)`, `CAMResult`);
- `folding`: batch-norm folded into the convs before it, for faster passes (`fold_batch_norm`);
- `methods`: each CAM method as one function of activations and gradients (`METHODS`);
- `guided`: Guided Backprop and Guided Grad-CAM; `evaluation`: deletion, insertion, ROAD and
  sanity scores per method (`evaluate`); `reference`: pytorch-grad-cam on the same weights
  (tests and benchmarks only: imports PyTorch);
- `images`: reading image files, resizing maps, overlays;
- `checks`: the randomisation sanity check and the deletion (faithfulness) test;
  `faithfulness`: that test in class logits against random maps on the layer's grid, ROAD
  curves, bootstrap intervals, its setting chosen on held-out photographs;
- `plots`: the figures; `cli`: ``python -m deepvis.gradcam IMG ...``;
- `imagenet`: the ImageNet classifiers (VGG-16, or EfficientNet-Lite0 offline) and class names;
- `testimages`: the five test images gc1..gc5;
- `experiment`: where the notebooks start (the network, the images, their top-3 maps, the
  cache of the analyses); `findings`: what the analyses found, as the prose of notebook 07
  cites it.

The main names are importable from here, as in pytorch-grad-cam
(``from deepvis.gradcam import GradCAM, load_model, load_image``). They, and the modules above,
load on first use (PEP 562): importing this package loads neither TensorFlow nor Keras.
"""

from __future__ import annotations

from deepvis.exports import lazy

#: Public name -> the module that defines it.
_EXPORTS = {
    "GradCAM": "deepvis.gradcam.core",
    "CAMResult": "deepvis.gradcam.core",
    "conv_layer_names": "deepvis.gradcam.core",
    "METHODS": "deepvis.gradcam.methods",
    "CAM_METHODS": "deepvis.gradcam.methods",
    "GuidedBackprop": "deepvis.gradcam.guided",
    "GuidedGradCAM": "deepvis.gradcam.guided",
    "GuidedResult": "deepvis.gradcam.guided",
    "load_image": "deepvis.gradcam.images",
    "resize_map": "deepvis.gradcam.images",
    "overlay": "deepvis.gradcam.images",
    "sanity_check": "deepvis.gradcam.checks",
    "sanity_cascade": "deepvis.gradcam.checks",
    "CamMaps": "deepvis.gradcam.checks",
    "evaluate": "deepvis.gradcam.evaluation",
    "ImageNetModel": "deepvis.gradcam.imagenet.models",
    "load_model": "deepvis.gradcam.imagenet.models",
    "class_names": "deepvis.gradcam.imagenet.classes",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy(__name__, _EXPORTS)
