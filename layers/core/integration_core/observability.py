"""Powertools Logger and Metrics, created once per process and shared by every module.

Tracing: the template turns on X-Ray (`Tracing: Active`), which traces every invocation without
code. Functions that call providers may add Powertools' Tracer for subsegments; the core does not
create one, because importing the X-Ray SDK costs ~150 ms of cold start in every function.
"""

from aws_lambda_powertools import Logger, Metrics

logger = Logger()
metrics = Metrics()
