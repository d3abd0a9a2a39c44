"""Data for development and benchmarks, never for production: the demo customers of `make run`
(demo) and the scale data of `make bench` (generate), made of the same words (words)."""
