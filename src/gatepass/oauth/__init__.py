"""Use-cases (token issuance, client authentication, key rotation), async and framework-free."""
