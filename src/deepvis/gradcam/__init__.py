"""Exercise 2: Grad-CAM saliency maps of an ImageNet-trained CNN.

- `core`: the batched Grad-CAM (`GradCAM`, `CAMResult`);
- `images`: reading image files, resizing maps, overlays;
- `checks`: the randomisation sanity check and the deletion (faithfulness) test;
- `plots`: the figures; `cli`: ``python -m deepvis.gradcam IMG ...``;
- `imagenet`: the ImageNet classifiers (VGG-16, or EfficientNet-Lite0 offline) and class names;
- `testimages`: the five test images gc1..gc5.
"""
