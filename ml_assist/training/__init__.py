"""In-project training: a 2D MONAI network learns the project's mask labels from its experts'
accepted work and becomes a new registered model version that can pre-annotate.

dataset.py picks the ground truth (no torch), network.py builds and exports the network,
loop.py trains it, service.py validates requests and runs the training job, tasks.py is the
Celery entry point.
"""
