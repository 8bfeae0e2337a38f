"""The read API (``fillstream api``): the projections' views as JSON for the dashboard and for
scripts, behind the token. ``api.endpoints`` declares what each endpoint reads, from which the
queries (``api.queries``) and the OpenAPI document (``api.openapi``) are made; ``api.server``
serves them."""
