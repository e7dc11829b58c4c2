"""The OpenAPI document and an interactive docs page that needs no internet."""
