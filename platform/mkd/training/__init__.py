"""Student training: multi-task data, mixing, length bucketing, the LoRA loop, checkpoints, outputs.

Ray Train runs `mkd.training.loop.train_worker` in each worker (see ray_jobs/train.py); the same
loop runs without Ray in tests and benchmarks.
"""
