"""The shared core of the integration platform: domain, services, adapters and the HTTP edge.

Dependencies point one way: functions -> services -> domain, and services -> adapters through
small functions; a service never imports boto3 or a provider SDK directly.
"""
