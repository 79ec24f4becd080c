"""The provider sandbox: a local server hosting one emulator per provider (Stripe, PayPal, Zoom,
Microsoft Graph, Google) so the service runs and is tested offline. See README.md beside this file
for how an emulator is written and what the control endpoints are.
"""
