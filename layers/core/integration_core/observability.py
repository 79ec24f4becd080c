"""Powertools Logger and Metrics, created once per process and shared by every module.

Tracing: the template turns on X-Ray (`Tracing: Active`), which traces every invocation without
code. Functions that call providers may add Powertools' Tracer for subsegments; the core does not
create one, because importing the X-Ray SDK costs ~150 ms of cold start in every function.
"""

import warnings

from aws_lambda_powertools import Logger, Metrics

logger = Logger()
metrics = Metrics()

# Most requests (reads, refused callbacks) add no metric; that is normal, not worth a warning each.
warnings.filterwarnings("ignore", message="No application metrics to publish")
