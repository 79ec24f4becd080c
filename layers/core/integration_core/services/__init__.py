"""Services: one module per capability. They hold the business rules and call adapters."""
