"""Benchmarks of Diesel Direct (not tests): `make bench-api`, `make bench-routing`."""
