"""The dataset pipeline: curated prompts -> augmentation -> labeling -> review -> splits."""
