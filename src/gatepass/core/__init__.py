"""Pure, synchronous logic: no I/O; time and randomness are passed in or drawn from `secrets`."""
