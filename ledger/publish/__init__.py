"""What the tally publishes: standard exports (CSV, NIST), the results report, the bundle."""
