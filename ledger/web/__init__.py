"""The ledger over HTTP: the JSON API, request authentication, the dashboard, public pages."""
