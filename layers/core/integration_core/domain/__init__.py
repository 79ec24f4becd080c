"""Domain models and rules, free of AWS and provider code."""
