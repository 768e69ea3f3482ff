"""HTTP: the app factory, one error mapping, and one thin router per concern."""
