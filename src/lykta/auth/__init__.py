"""API tokens and their scopes: who may do what over HTTP."""
