"""Exercise 2: Grad-CAM saliency maps of an ImageNet-trained CNN.

- `core`: the batched Grad-CAM and the CAM family (`GradCAM(model, layer, method)`, `CAMResult`);
- `methods`: each CAM method as one function of activations and gradients (`METHODS`);
- `guided`: Guided Backprop and Guided Grad-CAM; `evaluation`: deletion, insertion, ROAD and
  sanity scores per method (`evaluate`); `reference`: pytorch-grad-cam on the same weights
  (tests and benchmarks only: imports PyTorch);
- `images`: reading image files, resizing maps, overlays;
- `checks`: the randomisation sanity check and the deletion (faithfulness) test;
- `plots`: the figures; `cli`: ``python -m deepvis.gradcam IMG ...``;
- `imagenet`: the ImageNet classifiers (VGG-16, or EfficientNet-Lite0 offline) and class names;
- `testimages`: the five test images gc1..gc5.
"""
